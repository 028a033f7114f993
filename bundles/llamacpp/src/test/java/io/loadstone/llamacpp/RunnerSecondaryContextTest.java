package io.loadstone.llamacpp;

import io.loadstone.llamacpp.runner.RunnerRuntime;

/** Every {@link SecondaryContextTest} again, with each model in its own runner process. */
class RunnerSecondaryContextTest extends SecondaryContextTest {

    @Override
    AutoCloseable start() throws Exception {
        RunnerRuntime rt = TestFiles.runner();
        runtime = rt;
        return rt;
    }
}
