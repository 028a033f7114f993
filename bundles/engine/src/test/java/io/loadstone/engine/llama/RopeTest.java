package io.loadstone.engine.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.engine.EngineOptions;
import org.junit.jupiter.api.Test;

/** RoPE tables: the exact identities behind the scaling options. */
class RopeTest {

    @Test
    void linearFactorTwoAtEvenPositionsIsBitEqualToUnscaledAtHalfThePosition() {
        Rope plain = new Rope(64, RopeSpec.plain(10000));
        Rope scaled = new Rope(64, new RopeSpec(10000, "linear", 2, 0, 0, 0));
        float[] c1 = new float[32];
        float[] s1 = new float[32];
        float[] c2 = new float[32];
        float[] s2 = new float[32];
        for (int k = 0; k < 2048; k++) {
            plain.angles(k, c1, s1, 0);
            scaled.angles(2 * k, c2, s2, 0);
            for (int i = 0; i < 32; i++) {
                assertEquals(Float.floatToIntBits(c1[i]), Float.floatToIntBits(c2[i]), "cos, k=" + k + " i=" + i);
                assertEquals(Float.floatToIntBits(s1[i]), Float.floatToIntBits(s2[i]), "sin, k=" + k + " i=" + i);
            }
        }
    }

    @Test
    void rotationIsRotateHalfNotInterleavedPairs() {
        Rope r = new Rope(4, RopeSpec.plain(10000));
        float[] cos = new float[2];
        float[] sin = new float[2];
        r.angles(1, cos, sin, 0);
        // Unit vector on element 0: the rotation mixes it into element 2 (its half partner), not element 1.
        float[] v = {1, 0, 0, 0};
        r.apply(v, 0, 1, cos, sin, 0);
        assertEquals(Math.cos(1), v[0], 1e-6);
        assertEquals(0, v[1], 0);
        assertEquals(Math.sin(1), v[2], 1e-6);
        assertEquals(0, v[3], 0);
    }

    @Test
    void ntkAlphaAndOverridesCombineAsTextGenerationWebuiDefinesThem() {
        RopeSpec cfg = RopeSpec.plain(10000);
        RopeSpec alpha = LlamaModel.effectiveRope(cfg, 128, EngineOptions.builder().alphaValue(2).build());
        assertEquals(10000 * Math.pow(2, 128.0 / 126), alpha.base(), 1e-6);
        RopeSpec base = LlamaModel.effectiveRope(cfg, 128, EngineOptions.builder().alphaValue(2).ropeFreqBase(77777).build());
        assertEquals(77777, base.base(), 0);
        RopeSpec linear = LlamaModel.effectiveRope(new RopeSpec(10000, "llama3", 8, 1, 4, 8192), 128,
                EngineOptions.builder().compressPosEmb(4).build());
        assertEquals("linear", linear.type());
        assertEquals(4, linear.factor(), 0);
    }

    @Test
    void llama3ScalingKeepsHighFrequenciesAndDividesLowOnes() {
        RopeSpec spec = new RopeSpec(500000, "llama3", 8, 1, 4, 8192);
        float[] plain = new Rope(128, RopeSpec.plain(500000)).invFreq();
        float[] scaled = new Rope(128, spec).invFreq();
        assertEquals(plain[0], scaled[0], 0); // wavelength 2π < 8192/4: unchanged
        assertEquals(plain[63] / 8, scaled[63], plain[63] * 1e-6); // longest wavelength: divided by factor
        for (int i = 0; i < 64; i++) {
            assertTrue(scaled[i] <= plain[i] && scaled[i] >= plain[i] / 8 * (1 - 1e-6), "i=" + i);
        }
    }
}
