package io.loadstone.engine.exl2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.engine.EngineModel;
import io.loadstone.engine.EngineOptions;
import io.loadstone.engine.EngineSession;
import io.loadstone.engine.TestModels;
import io.loadstone.engine.json.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The shared stories260K-hf-pad192 (a trained model; every dimension a multiple of 32) converted
 * to EXL2 by {@link Exl2Writer} at 8, 6 and 4 bits (mixed widths per layer, act-order-like
 * permutation) and run by the engine through {@link Exl2Format}, against transformers' logits of
 * the unquantized model (reference.json): all positions of the three prompts, and the greedy
 * continuation.
 *
 * <p>Two distances: to an F32 copy holding exactly the dequantized weights (the kernels and the
 * reading of the layout: ≤ 2e-4, summation order only), and to the unquantized model (the
 * quantization). Measured here (2026-12-08; round-to-nearest from {@link Exl2Writer}, no
 * calibration) over all positions of the three prompts, logits up to |20|: 8 bits (8.00 bpw)
 * 0.33, greedy text identical; 6 bits (8/6/5 mixed, 6.42 bpw) 1.68; 4 bits (5/4/3, 4.00 bpw)
 * 6.6. The 0.05 at 8 bits is below what 8-bit weights give on this model at all: the
 * engine's own per-row INT8 gives 0.28 on the same text (QuantizationTest), and the shared
 * GPTQ 8-bit/g32 fixture, with GPTQ's error feedback, 0.156 at the last position (its README).
 */
class Exl2ModelTest {

    private static final System.Logger LOG = System.getLogger(Exl2ModelTest.class.getName());

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} bits")
    @CsvSource({
        "8, 0.5, true",
        "6, 2.5, false",
        "4, 10, false",
    })
    void storiesAsExl2MatchesItsDequantizedWeightsAndStaysNearTheUnquantizedModel(int bits, float bound, boolean sameGreedy)
            throws Exception {
        Path src = TestModels.model("stories260K-hf-pad192");
        Path exl2 = dir.resolve("stories260K-exl2-" + bits);
        Path dequantized = dir.resolve("stories260K-exl2-" + bits + "-dequantized");
        double bpw = Exl2Writer.convert(src, exl2, bits, dequantized);
        Map<String, Object> config = Json.parseObject(Files.readString(exl2.resolve("config.json")));
        Map<?, ?> q = (Map<?, ?>) config.get("quantization_config");
        assertEquals("exl2", q.get("quant_method"));
        assertEquals(bpw, ((Number) q.get("bits")).doubleValue(), 0.005);

        Map<String, Object> ref = TestModels.json(src.resolve("reference.json"));
        float worst = 0;
        float lastWorst = 0;
        float kernel = 0;
        int greedyMatched = Integer.MAX_VALUE;
        try (EngineModel m = EngineModel.open(exl2, EngineOptions.builder().threads(2).linearFormat(new Exl2Format()).build());
                EngineSession s = m.newSession();
                EngineModel plain = EngineModel.open(dequantized, EngineOptions.builder().threads(2).build());
                EngineSession ps = plain.newSession()) {
            assertEquals("EXL2", m.config().weightType());
            assertTrue(m.weightBytes() < plain.weightBytes(), "packed " + m.weightBytes() + " vs F32 " + plain.weightBytes());
            for (Object o : (List<?>) ref.get("prompts")) {
                Map<?, ?> p = (Map<?, ?>) o;
                int[] input = TestModels.ints(p.get("input_ids"));
                List<?> all = (List<?>) p.get("all_logits");
                s.reset();
                ps.reset();
                float[][] logits = s.forwardAll(input);
                float[][] exact = ps.forwardAll(input);
                for (int i = 0; i < input.length; i++) {
                    worst = Math.max(worst, TestModels.maxAbsDiff(logits[i], TestModels.floats(all.get(i))));
                    kernel = Math.max(kernel, TestModels.maxAbsDiff(logits[i], exact[i]));
                }
                lastWorst = Math.max(lastWorst, TestModels.maxAbsDiff(logits[input.length - 1], TestModels.floats(p.get("last_logits"))));
                int[] greedy = TestModels.ints(p.get("greedy_ids"));
                s.reset();
                int[] got = TestModels.greedy(s, input, greedy.length);
                int same = 0;
                while (same < greedy.length && got[same] == greedy[same]) {
                    same++;
                }
                greedyMatched = Math.min(greedyMatched, same);
                if (sameGreedy) {
                    assertArrayEquals(greedy, got, bits + "-bit greedy continuation of " + p.get("prompt"));
                }
            }
        }
        LOG.log(System.Logger.Level.INFO, String.format("stories260K-hf-pad192 as EXL2 %d bits (%.2f bpw): max |Δlogit| vs the same "
                + "weights dequantized (F32) %.2g; vs transformers fp32 unquantized %.4f (last positions %.4f), greedy tokens equal: %d of 30",
                bits, bpw, kernel, worst, lastWorst, greedyMatched));
        assertTrue(kernel <= 2e-4, bits + " bits: packed kernels vs dequantized weights: max |Δlogit| " + kernel);
        assertTrue(worst <= bound, bits + " bits: max |Δlogit| " + worst + " > " + bound);
        // Quantization must show: the format is really in the path.
        assertTrue(worst > 1e-2, "max |Δlogit| " + worst + " is too small for a quantized model");
    }

    @Test
    void anExl2FolderNamesItsOwnFormat() throws Exception {
        Path exl2 = dir.resolve("stories260K-exl2-4");
        Exl2Writer.convert(TestModels.model("stories260K-hf-pad192"), exl2, 4);
        int[] input = {1, 403, 407, 261, 378};
        try (EngineModel auto = EngineModel.open(exl2, EngineOptions.builder().threads(2).build());
                EngineSession as = auto.newSession();
                EngineModel named = EngineModel.open(exl2, EngineOptions.builder().threads(2).linearFormat(new Exl2Format()).build());
                EngineSession ns = named.newSession()) {
            assertEquals("EXL2", auto.config().weightType());
            assertArrayEquals(ns.forward(input), as.forward(input));
        }
    }
}
