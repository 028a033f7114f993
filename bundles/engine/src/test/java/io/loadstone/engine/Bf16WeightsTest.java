package io.loadstone.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * bf16Weights (text-generation-webui's bf16): the F32 stories260K converted at load must compute
 * exactly what the checkpoint that torch cast to bfloat16 computes — the shared BF16 copy is the
 * F32 weights through {@code .to(torch.bfloat16)}, every tensor, round to nearest even.
 */
class Bf16WeightsTest {

    private static final int[] TOKENS = {1, 403, 407, 261, 378, 447, 63, 6, 4, 341, 352};

    private static float[][] run(String folder, EngineOptions o, long[] bytes) throws Exception {
        try (EngineModel m = EngineModel.open(TestModels.model(folder), o); EngineSession s = m.newSession()) {
            bytes[0] = m.weightBytes();
            return s.forwardAll(TOKENS);
        }
    }

    @Test
    void anF32CheckpointLoadedAsBf16ComputesWhatTheTorchCastCheckpointComputes() throws Exception {
        long[] f32Bytes = new long[1];
        long[] converted = new long[1];
        long[] castBytes = new long[1];
        float[][] f32 = run("stories260K-hf", EngineOptions.builder().threads(2).build(), f32Bytes);
        float[][] asBf16 = run("stories260K-hf", EngineOptions.builder().threads(2).bf16Weights(true).build(), converted);
        float[][] cast = run("stories260K-hf-bf16", EngineOptions.builder().threads(2).build(), castBytes);
        for (int t = 0; t < TOKENS.length; t++) {
            assertArrayEquals(cast[t], asBf16[t], "position " + t);
        }
        assertTrue(converted[0] * 2 == f32Bytes[0], "half the bytes: " + converted[0] + " vs " + f32Bytes[0]);
        boolean differs = false;
        for (int v = 0; v < f32[0].length; v++) {
            differs |= f32[TOKENS.length - 1][v] != asBf16[TOKENS.length - 1][v];
        }
        assertTrue(differs, "the conversion changed the model");
    }

    @Test
    void aBf16CheckpointIsLeftAsItIs() throws Exception {
        long[] a = new long[1];
        long[] b = new long[1];
        float[][] plain = run("stories260K-hf-bf16", EngineOptions.builder().threads(2).build(), a);
        float[][] again = run("stories260K-hf-bf16", EngineOptions.builder().threads(2).bf16Weights(true).build(), b);
        for (int t = 0; t < TOKENS.length; t++) {
            assertArrayEquals(plain[t], again[t]);
        }
        assertTrue(a[0] == b[0]);
    }
}
