package io.loadstone.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * stories260K in Hugging Face layout against transformers' own outputs (reference.json of the
 * LoRA fixture holds the base model's logits and greedy continuation, fp32, no KV cache).
 */
class StoriesReferenceTest {

    private static final System.Logger LOG = System.getLogger(StoriesReferenceTest.class.getName());

    private static int[] input;
    private static float[] refLogits;
    private static int[] refGreedy;

    @BeforeAll
    static void reference() throws Exception {
        Map<String, Object> ref = TestModels.json(TestModels.model("stories260K-lora-r8").resolve("reference.json"));
        input = TestModels.ints(ref.get("input_ids"));
        refLogits = TestModels.floats(ref.get("base_last_logits"));
        refGreedy = TestModels.ints(ref.get("base_greedy_ids"));
    }

    @ParameterizedTest(name = "{0}, threads={1}, batch={2}, kv={3}")
    @CsvSource({
        "stories260K-hf, 1, 64, F32, 1e-4",
        "stories260K-hf, 2, 2, F32, 1e-4",
        "stories260K-hf, 2, 64, F16, 0.01",
        "stories260K-hf-f16, 2, 64, F32, 0.02",
        "stories260K-hf-bf16, 2, 64, F32, 0.15",
    })
    void lastLogitsAndGreedyMatchTransformers(String model, int threads, int batch, KvCacheType kv, float tolerance) throws Exception {
        Path folder = TestModels.model(model);
        EngineOptions o = EngineOptions.builder().threads(threads).batchSize(batch).kvCache(kv).build();
        try (EngineModel m = EngineModel.open(folder, o); EngineSession s = m.newSession()) {
            float[] logits = s.forward(input);
            float diff = TestModels.maxAbsDiff(logits, refLogits);
            LOG.log(System.Logger.Level.INFO, String.format("%s threads=%d batch=%d kv=%s: max |Δlogit| vs transformers = %.3g",
                    model, threads, batch, kv, diff));
            assertTrue(diff <= tolerance, model + ": max |Δlogit| " + diff + " > " + tolerance);
            assertEquals(input.length, s.position());
            s.reset();
            assertArrayEquals(refGreedy, TestModels.greedy(s, input, refGreedy.length), model + " greedy continuation");
            assertEquals(input.length + refGreedy.length, s.position());
        }
    }
}
