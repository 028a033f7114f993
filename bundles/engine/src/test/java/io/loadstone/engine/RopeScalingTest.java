package io.loadstone.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The RoPE options against an independent double-precision forward pass with explicit
 * positions and base:
 * <ul>
 * <li>compress_pos_emb = 2 must equal running the same tokens at positions 0, 0.5, 1, 1.5, …;</li>
 * <li>alpha_value = α must equal base·α^(d/(d-2)); rope_freq_base must equal that base directly
 *     and win over alpha_value;</li>
 * <li>each option must really change the logits (so the equalities are not vacuous), except at
 *     position 0 where every rotation is the identity.</li>
 * </ul>
 */
class RopeScalingTest {

    private static final System.Logger LOG = System.getLogger(RopeScalingTest.class.getName());

    private static Path folder;
    private static int[] input;
    private static float[][] plain;

    @BeforeAll
    static void load() throws Exception {
        folder = TestModels.model("tiny-llama-f32");
        Map<String, Object> ref = TestModels.json(TestModels.model("tiny-llama-gptq-4bit-32g-actorder").resolve("reference.json"));
        input = TestModels.ints(ref.get("input_ids"));
        plain = run(EngineOptions.builder().threads(2).build());
    }

    private static float[][] run(EngineOptions o) throws Exception {
        try (EngineModel m = EngineModel.open(folder, o); EngineSession s = m.newSession()) {
            return s.forwardAll(input);
        }
    }

    private static float maxDiff(float[][] a, float[][] b) {
        float worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, TestModels.maxAbsDiff(a[i], b[i]));
        }
        return worst;
    }

    private static float[][] reference(double positionDivisor, double base) throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            return new ReferenceLlama(folder, arena).logits(input, ReferenceLlama.positions(input.length, positionDivisor), base);
        }
    }

    @Test
    void compressPosEmbTwoEqualsHalfPositions() throws Exception {
        float[][] compressed = run(EngineOptions.builder().threads(2).compressPosEmb(2).build());
        float[][] halfPositions = reference(2, 10000);
        float agree = maxDiff(compressed, halfPositions);
        float moved = maxDiff(compressed, plain);
        LOG.log(System.Logger.Level.INFO, String.format("compress_pos_emb=2: max |Δ| vs positions/2 reference %.3g; vs unscaled %.3g",
                agree, moved));
        assertTrue(agree <= 1e-4, "compress_pos_emb=2 differs from positions/2 by " + agree);
        assertTrue(moved > 100 * agree, "compress_pos_emb=2 barely changed the logits (" + moved + ")");
        assertArrayEquals(plain[0], compressed[0], 1e-6f, "position 0 is not rotated, so scaling cannot change it");
    }

    @Test
    void alphaValueIsNtkBaseAndRopeFreqBaseOverridesIt() throws Exception {
        double alpha = 2.5;
        int d = 32;
        double ntkBase = 10000 * Math.pow(alpha, (double) d / (d - 2));
        float[][] withAlpha = run(EngineOptions.builder().threads(2).alphaValue(alpha).build());
        float[][] withBase = run(EngineOptions.builder().threads(2).ropeFreqBase(ntkBase).build());
        float[][] bothGiven = run(EngineOptions.builder().threads(2).ropeFreqBase(ntkBase).alphaValue(8).build());
        float[][] ref = reference(1, ntkBase);
        float agree = maxDiff(withAlpha, ref);
        float moved = maxDiff(withAlpha, plain);
        LOG.log(System.Logger.Level.INFO, String.format("alpha_value=%.1f (base %.1f): max |Δ| vs reference %.3g; vs unscaled %.3g",
                alpha, ntkBase, agree, moved));
        assertTrue(agree <= 1e-4, "alpha_value differs from the NTK base reference by " + agree);
        assertTrue(moved > 100 * agree, "alpha_value barely changed the logits (" + moved + ")");
        assertTrue(maxDiff(withBase, withAlpha) <= 1e-5, "rope_freq_base = NTK base must equal alpha_value");
        assertTrue(maxDiff(bothGiven, withBase) == 0f, "rope_freq_base must take precedence over alpha_value");
    }

    @Test
    void ropeFreqBaseMatchesReferenceWithThatBase() throws Exception {
        float[][] engine = run(EngineOptions.builder().threads(2).ropeFreqBase(500).build());
        float agree = maxDiff(engine, reference(1, 500));
        LOG.log(System.Logger.Level.INFO, String.format("rope_freq_base=500: max |Δ| vs reference %.3g", agree));
        assertTrue(agree <= 1e-4, "rope_freq_base=500 differs from reference by " + agree);
    }
}
