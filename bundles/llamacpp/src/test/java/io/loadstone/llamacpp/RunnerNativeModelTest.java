package io.loadstone.llamacpp;

import io.loadstone.llamacpp.runner.RunnerRuntime;

/** Every {@link NativeModelTest} again, with each model in its own runner process. */
class RunnerNativeModelTest extends NativeModelTest {

    @Override
    AutoCloseable start() throws Exception {
        RunnerRuntime rt = TestFiles.runner();
        runtime = rt;
        return rt;
    }
}
