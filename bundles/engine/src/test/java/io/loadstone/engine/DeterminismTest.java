package io.loadstone.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The same tokens give bit-identical logits on every call: from the first (interpreted) call to
 * after the JIT has compiled the kernels, with any thread count. Generation with a fixed seed is
 * then reproducible.
 */
class DeterminismTest {

    @Test
    void logitsAreBitIdenticalAcrossCallsAndThreadCounts() throws Exception {
        Path folder = TestModels.model("stories260K-hf-bf16");
        int[] tokens = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421};
        float[][] first;
        try (EngineModel m = EngineModel.open(folder, EngineOptions.builder().threads(1).build()); EngineSession s = m.newSession()) {
            first = s.forwardAll(tokens);
            for (int i = 0; i < 300; i++) {
                s.reset();
                s.forwardAll(tokens);
            }
            s.reset();
            float[][] later = s.forwardAll(tokens);
            for (int i = 0; i < tokens.length; i++) {
                assertArrayEquals(first[i], later[i], 0f, "position " + i + " after 300 repetitions");
            }
        }
        try (EngineModel m = EngineModel.open(folder, EngineOptions.builder().threads(2).build()); EngineSession s = m.newSession()) {
            float[][] other = s.forwardAll(tokens);
            for (int i = 0; i < tokens.length; i++) {
                assertArrayEquals(first[i], other[i], 0f, "position " + i + " with 2 threads");
            }
        }
    }
}
