package io.loadstone.llamacpp;

import java.nio.file.Path;

/**
 * Every {@link NativeModelTest} (stories260K: tokenizer, logits against transformers, greedy text,
 * samplers, penalties, KV cache edits) on llama.cpp v0.5.0, in a runner process as the bundle runs it.
 */
class V050RunnerNativeModelTest extends NativeModelTest {

    @Override
    String build() {
        return TestFiles.V050;
    }

    @Override
    Path library() {
        return TestFiles.libraryV050();
    }

    @Override
    AutoCloseable start() throws Exception {
        var rt = TestFiles.runner(library(), build());
        runtime = rt;
        return rt;
    }
}
