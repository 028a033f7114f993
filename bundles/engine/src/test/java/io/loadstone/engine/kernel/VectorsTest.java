package io.loadstone.engine.kernel;

import static io.loadstone.engine.kernel.Vectors.F;
import static io.loadstone.engine.kernel.Vectors.H;
import static io.loadstone.engine.kernel.Vectors.LANES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import org.junit.jupiter.api.Test;

/** The conversions and the deterministic exp/sum every kernel builds on, checked exhaustively. */
class VectorsTest {

    @Test
    void halfToFloatMatchesTheJdkForEveryFiniteHalfAndExactVariantForAll() {
        short[] bits = new short[LANES];
        float[] out = new float[LANES];
        float[] exact = new float[LANES];
        for (int base = 0; base < 65536; base += LANES) {
            for (int i = 0; i < LANES; i++) {
                bits[i] = (short) (base + i);
            }
            ShortVector h = ShortVector.fromArray(H, bits, 0);
            Vectors.halfToFloat(h).intoArray(out, 0);
            Vectors.halfToFloatExact(h).intoArray(exact, 0);
            for (int i = 0; i < LANES; i++) {
                float want = Float.float16ToFloat(bits[i]);
                assertEquals(want, exact[i], 0f,
                        "exact, bits " + Integer.toHexString(base + i));
                if (Float.isFinite(want)) {
                    assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(out[i]), "bits " + Integer.toHexString(base + i));
                }
            }
        }
    }

    @Test
    void bf16RoundTripsAndRoundsToNearestEven() {
        for (int b = 0; b < 65536; b++) {
            float f = Vectors.bf16ToFloat((short) b);
            if (!Float.isNaN(f)) {
                assertEquals((short) b, Vectors.floatToBf16(f));
            }
        }
        assertEquals((short) 0x3f80, Vectors.floatToBf16(Float.intBitsToFloat(0x3f808000))); // tie -> even (down)
        assertEquals((short) 0x3f82, Vectors.floatToBf16(Float.intBitsToFloat(0x3f818000))); // tie -> even (up)
        assertEquals((short) 0x3f81, Vectors.floatToBf16(Float.intBitsToFloat(0x3f808001))); // above the tie -> up
    }

    @Test
    void expIsWithinTwoUlpOfMathExp() {
        float[] x = new float[LANES];
        float[] y = new float[LANES];
        double worstUlps = 0;
        for (int k = -8730; k <= 8830; k += LANES) {
            for (int i = 0; i < LANES; i++) {
                x[i] = (k + i) / 100f + 0.00123f * i;
            }
            Vectors.exp(FloatVector.fromArray(F, x, 0)).intoArray(y, 0);
            for (int i = 0; i < LANES; i++) {
                if (x[i] < -87.3f || x[i] > 88.3f) {
                    continue;
                }
                double want = Math.exp(x[i]);
                double ulps = Math.abs(y[i] - want) / Math.ulp((float) want);
                worstUlps = Math.max(worstUlps, ulps);
            }
        }
        assertTrue(worstUlps <= 2, "worst error " + worstUlps + " ulp");
        x[0] = -100f;
        Vectors.exp(FloatVector.fromArray(F, x, 0)).intoArray(y, 0);
        assertEquals(0f, y[0]);
    }

    @Test
    void sumAddsAllLanes() {
        float[] v = new float[LANES];
        for (int i = 0; i < LANES; i++) {
            v[i] = 1 << i % 20;
        }
        double want = 0;
        for (float f : v) {
            want += f;
        }
        assertEquals(want, Vectors.sum(FloatVector.fromArray(F, v, 0)), 0);
    }
}
