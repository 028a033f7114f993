package io.loadstone.engine.kernel;

import static io.loadstone.engine.kernel.Vectors.H;
import static io.loadstone.engine.kernel.Vectors.LANES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import jdk.incubator.vector.ShortVector;
import org.junit.jupiter.api.Test;

/** The F16 decode kernel, which widens weights scaled down by 2^112 and rescales the sum once. */
class MatVecTest {

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void scaledDownWideningIsExactForEveryFiniteHalf() {
        short[] bits = new short[LANES];
        float[] out = new float[LANES];
        for (int base = 0; base < 65536; base += LANES) {
            for (int i = 0; i < LANES; i++) {
                bits[i] = (short) (base + i);
            }
            Vectors.halfToFloatScaledDown(ShortVector.fromArray(H, bits, 0)).intoArray(out, 0);
            for (int i = 0; i < LANES; i++) {
                float want = Float.float16ToFloat(bits[i]);
                if (Float.isFinite(want)) {
                    assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(out[i] * 0x1p112f),
                            "bits " + Integer.toHexString(base + i));
                }
            }
        }
    }

    /** Rows of trained-model-like weights, plus tiny and subnormal halves, against a double-precision sum. */
    @Test
    void dotF16MatchesADoubleReferenceAlsoForTinyWeights() {
        SplittableRandom r = new SplittableRandom(7);
        for (int cols : new int[] {7, 64, 2048 + 5, 5632}) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment w = arena.allocate(2L * cols);
                float[] x = new float[cols];
                double exact = 0;
                double magnitude = 0;
                for (int c = 0; c < cols; c++) {
                    float v = switch (c % 4) {
                        case 0 -> (float) (r.nextGaussian() * 0.02);
                        case 1 -> (float) (r.nextGaussian() * 1e-6); // half subnormals
                        case 2 -> (float) (r.nextGaussian() * 6e-5); // around the smallest normal half
                        default -> (float) (r.nextGaussian() * 2);
                    };
                    short h = Float.floatToFloat16(v);
                    w.set(U16, 2L * c, h);
                    x[c] = (float) (r.nextGaussian() * (c % 3 == 0 ? 1e-3 : 10));
                    exact += (double) Float.float16ToFloat(h) * x[c];
                    magnitude += Math.abs((double) Float.float16ToFloat(h) * x[c]);
                }
                float got = MatVec.dotF16(w, 0, cols, x, 0);
                // Float accumulation error bound (a few ulps of the sum of magnitudes), nothing more.
                assertTrue(Math.abs(got - exact) <= 1e-6 * magnitude + 1e-30, cols + ": " + got + " vs " + exact);
            }
        }
    }
}
