package io.loadstone.llamacpp;

import java.nio.file.Files;

import io.loadstone.llamacpp.runner.RunnerLaunch;
import io.loadstone.llamacpp.runner.RunnerRuntime;

/** Every {@link SecondaryContextTest} again, with each model in its own runner process. */
class RunnerSecondaryContextTest extends SecondaryContextTest {

    @Override
    AutoCloseable start() throws Exception {
        RunnerRuntime rt = RunnerRuntime.start(RunnerLaunch.outsideOsgi(TestFiles.library(), "llama.cpp-b4916",
                Files.createTempDirectory("runner-test")));
        runtime = rt;
        return rt;
    }
}
