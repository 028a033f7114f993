package io.loadstone.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * GPTQ and AWQ checkpoints made by the reference tools (GPTQModel, GPTQ-for-LLaMa, AutoAWQ)
 * against the logits and greedy ids those tools' own dequantization gives (reference.json in each
 * folder). The folders are opened with default options: the engine finds the format itself.
 *
 * <p>The references round {@code scale·(q−zero)} to fp16 as the GPU kernels do; the engine keeps
 * the product in float32 (it is factored per group, see PackedIntMatrix), which the READMEs measure
 * at up to 0.0145 logits (GPTQ 4-bit): hence a tolerance of 0.02, and greedy ids that must match exactly.
 */
class QuantReferenceTest {

    private static final System.Logger LOG = System.getLogger(QuantReferenceTest.class.getName());

    @ParameterizedTest(name = "{0}, threads={1}, batch={2}")
    @CsvSource({
        "stories260K-gptq-4bit-32g-actorder, 2, 64, 0.02",
        "stories260K-gptq-4bit-32g-actorder, 1, 1, 0.02",
        "stories260K-gptq-4bit-64g-sym, 2, 64, 0.02",
        "stories260K-gptq-8bit-32g-sym, 2, 64, 0.02",
        "stories260K-awq-4bit-64g-gemm, 2, 64, 0.02",
        "stories260K-awq-4bit-32g-gemm, 2, 64, 0.02",
        "stories260K-awq-4bit-64g-gemv, 2, 3, 0.02",
    })
    void logitsAndGreedyIdsMatchTheTool(String model, int threads, int batch, float tolerance) throws Exception {
        Path folder = TestModels.model(model);
        Map<String, Object> ref = TestModels.json(folder.resolve("reference.json"));
        List<?> prompts = (List<?>) ref.get("prompts");
        try (EngineModel m = EngineModel.open(folder, EngineOptions.builder().threads(threads).batchSize(batch).build())) {
            float worst = 0;
            for (Object o : prompts) {
                @SuppressWarnings("unchecked")
                Map<String, Object> p = (Map<String, Object>) o;
                int[] input = TestModels.ints(p.get("input_ids"));
                int[] refGreedy = TestModels.ints(p.get("greedy_ids"));
                try (EngineSession s = m.newSession()) {
                    float diff = TestModels.maxAbsDiff(s.forward(input), TestModels.floats(p.get("last_logits")));
                    worst = Math.max(worst, diff);
                    assertTrue(diff <= tolerance, model + " \"" + p.get("prompt") + "\": max |Δlogit| " + diff + " > " + tolerance);
                    s.reset();
                    assertArrayEquals(refGreedy, TestModels.greedy(s, input, refGreedy.length), model + " greedy ids for \"" + p.get("prompt") + "\"");
                }
            }
            float w = worst;
            LOG.log(System.Logger.Level.INFO, () -> String.format("%s (%s) threads=%d batch=%d: max |Δlogit| vs the tool = %.4g",
                    model, m.config().weightType(), threads, batch, w));
        }
    }

    /** GPTQ-for-LLaMa's checkpoint against AutoGPTQ's torch dequantization of it (fp16 product). */
    @Test
    void gptqForLlamaCheckpoint() throws Exception {
        Path folder = TestModels.model("tiny-llama-gptq-4bit-32g-actorder");
        Map<String, Object> ref = TestModels.json(folder.resolve("reference.json"));
        try (EngineModel m = EngineModel.open(folder, EngineOptions.builder().threads(2).build()); EngineSession s = m.newSession()) {
            float[] logits = s.forward(TestModels.ints(ref.get("input_ids")));
            float diff = TestModels.maxAbsDiff(logits, TestModels.floats(ref.get("dequant_last_logits")));
            LOG.log(System.Logger.Level.INFO, () -> String.format("tiny-llama-gptq: max |Δlogit| vs AutoGPTQ dequant = %.4g", diff));
            assertTrue(diff <= 0.005, "max |Δlogit| " + diff);
            assertEquals(TestModels.argmax(TestModels.floats(ref.get("dequant_last_logits"))), TestModels.argmax(logits));
        }
    }

    /** The same AWQ weights packed for the GEMM and the GEMV kernels run as one layout: identical logits. */
    @Test
    void awqGemmAndGemvCopiesGiveIdenticalLogits() throws Exception {
        Map<String, Object> ref = TestModels.json(TestModels.model("stories260K-awq-4bit-64g-gemm").resolve("reference.json"));
        @SuppressWarnings("unchecked")
        int[] input = TestModels.ints(((Map<String, Object>) ((List<?>) ref.get("prompts")).get(1)).get("input_ids"));
        EngineOptions o = EngineOptions.builder().threads(2).build();
        try (EngineModel gemm = EngineModel.open(TestModels.model("stories260K-awq-4bit-64g-gemm"), o);
                EngineModel gemv = EngineModel.open(TestModels.model("stories260K-awq-4bit-64g-gemv"), o);
                EngineSession a = gemm.newSession(); EngineSession b = gemv.newSession()) {
            assertArrayEquals(a.forward(input), b.forward(input));
            assertArrayEquals(a.forward(new int[] {42}), b.forward(new int[] {42}));
        }
    }
}
