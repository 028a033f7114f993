package io.loadstone.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * tiny-llama-f32 (head_dim 32, GQA 4/2) against transformers' fp32 logits, and the session
 * contract: batched prompt = token-by-token, forwardAll rows = incremental logits, truncate
 * rewinds exactly.
 */
class TinyLlamaTest {

    private static final System.Logger LOG = System.getLogger(TinyLlamaTest.class.getName());

    private static Path folder;
    private static int[] input;
    private static float[] refLogits;

    @BeforeAll
    static void reference() throws Exception {
        folder = TestModels.model("tiny-llama-f32");
        Map<String, Object> ref = TestModels.json(TestModels.model("tiny-llama-gptq-4bit-32g-actorder").resolve("reference.json"));
        input = TestModels.ints(ref.get("input_ids"));
        refLogits = TestModels.floats(ref.get("fp32_last_logits"));
    }

    @Test
    void lastLogitsMatchTransformers() throws Exception {
        try (EngineModel m = EngineModel.open(folder, EngineOptions.builder().threads(2).build()); EngineSession s = m.newSession()) {
            assertEquals("llama", m.config().modelType());
            assertEquals(32, m.config().headDim());
            assertEquals("F32", m.config().weightType());
            float diff = TestModels.maxAbsDiff(s.forward(input), refLogits);
            LOG.log(System.Logger.Level.INFO, String.format("tiny-llama-f32: max |Δlogit| vs transformers fp32 = %.3g", diff));
            assertTrue(diff <= 1e-4, "max |Δlogit| " + diff);
        }
    }

    @Test
    void independentDoublePrecisionForwardAgreesAtEveryPosition() throws Exception {
        try (Arena arena = Arena.ofConfined();
                EngineModel m = EngineModel.open(folder, EngineOptions.defaults());
                EngineSession s = m.newSession()) {
            float[][] ref = new ReferenceLlama(folder, arena).logits(input, ReferenceLlama.positions(input.length, 1), 10000);
            float[][] all = s.forwardAll(input);
            float worst = 0;
            for (int i = 0; i < input.length; i++) {
                worst = Math.max(worst, TestModels.maxAbsDiff(all[i], ref[i]));
            }
            LOG.log(System.Logger.Level.INFO, String.format("tiny-llama-f32: max |Δlogit| vs double reference over %d positions = %.3g",
                    input.length, worst));
            assertTrue(worst <= 1e-4, "max |Δlogit| " + worst);
            // The reference itself agrees with transformers, so both sides are anchored.
            assertTrue(TestModels.maxAbsDiff(ref[input.length - 1], refLogits) <= 1e-4);
        }
    }

    @Test
    void batchSizeThreadsAndIncrementalEvaluationGiveTheSameLogits() throws Exception {
        float[][] whole;
        try (EngineModel m = EngineModel.open(folder, EngineOptions.builder().threads(1).batchSize(64).build());
                EngineSession s = m.newSession()) {
            whole = s.forwardAll(input);
        }
        try (EngineModel m = EngineModel.open(folder, EngineOptions.builder().threads(2).batchSize(3).build());
                EngineSession s = m.newSession()) {
            for (int i = 0; i < input.length; i++) {
                float[] step = s.forward(new int[] {input[i]});
                assertTrue(TestModels.maxAbsDiff(step, whole[i]) <= 2e-6, "position " + i);
            }
            assertEquals(input.length, s.position());
            // Rewind to 7 and re-evaluate the rest as one batch of 3s.
            s.truncate(7);
            float[][] rest = s.forwardAll(Arrays.copyOfRange(input, 7, input.length));
            for (int i = 7; i < input.length; i++) {
                assertTrue(TestModels.maxAbsDiff(rest[i - 7], whole[i]) <= 2e-6, "after truncate, position " + i);
            }
            // A different continuation after truncation must not see the old tokens.
            s.truncate(1);
            float[] a = s.forward(new int[] {input[5]});
            s.reset();
            float[] b = s.forward(new int[] {input[0], input[5]});
            assertArrayEquals(b, a, 2e-6f);
        }
    }

    @Test
    void badCallsAreRefusedWithoutTouchingTheCache() throws Exception {
        EngineOptions o = EngineOptions.builder().threads(1).maxContext(8).build();
        EngineModel m = EngineModel.open(folder, o);
        EngineSession s = m.newSession();
        assertEquals(8, s.maxContext());
        s.forward(new int[] {1, 2, 3});
        IllegalArgumentException range = assertThrows(IllegalArgumentException.class, () -> s.forward(new int[] {5, 512}));
        assertTrue(range.getMessage().contains("512"), range.getMessage());
        IllegalArgumentException full = assertThrows(IllegalArgumentException.class, () -> s.forward(new int[] {1, 2, 3, 4, 5, 6}));
        assertTrue(full.getMessage().contains("context full"), full.getMessage());
        assertThrows(IllegalArgumentException.class, () -> s.forward(new int[0]));
        assertThrows(IllegalArgumentException.class, () -> s.truncate(4));
        assertEquals(3, s.position());
        m.close();
        // Closing the model closes its sessions (their off-heap caches) too.
        IllegalStateException closed = assertThrows(IllegalStateException.class, () -> s.forward(new int[] {1}));
        assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
        assertThrows(IllegalStateException.class, () -> s.forwardAll(new int[] {1}));
        assertThrows(IllegalStateException.class, m::newSession);
        s.close();
        m.close();
    }
}
