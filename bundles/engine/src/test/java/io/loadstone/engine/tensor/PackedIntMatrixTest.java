package io.loadstone.engine.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The packed kernels against the plain definition {@code y[o] = Σ_i s·(q − z)·x[i] + b[o]}, on
 * shapes the shared checkpoints do not have: outputs that fill no whole tile, groups of uneven
 * size after regrouping (padding inside words), row ranges that start and end inside a tile, one
 * to nine tokens (the 4-token and the 1-token kernels and their mix).
 */
class PackedIntMatrixTest {

    @ParameterizedTest(name = "{0}-bit, {1} x {2}, {3} groups")
    @CsvSource({"4, 40, 96, 5", "8, 23, 64, 3", "2, 50, 128, 1", "4, 64, 2048, 16"})
    void kernelsComputeTheDefinition(int bits, int rows, int cols, int groups) {
        SplittableRandom r = new SplittableRandom(bits * 1000L + rows);
        byte[] q = new byte[rows * cols];
        for (int i = 0; i < q.length; i++) {
            q[i] = (byte) r.nextInt(1 << bits);
        }
        int[] groupOf = new int[cols];
        for (int i = 0; i < cols; i++) {
            groupOf[i] = r.nextInt(groups); // any map: groups of uneven size, scattered as act-order leaves them
        }
        short[] scales = new short[groups * rows];
        int[] zeros = new int[groups * rows];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = Float.floatToFloat16((float) (0.01 * (0.5 + r.nextDouble())));
            zeros[i] = 1 + r.nextInt(1 << bits); // v1 zeros: 1 .. 2^bits
        }
        float[] bias = new float[rows];
        for (int o = 0; o < rows; o++) {
            bias[o] = (float) r.nextGaussian();
        }
        PackedIntMatrix m = PackedIntMatrix.pack(new PackedIntMatrix.Unpacked("t", "GPTQ-" + bits, rows, cols, bits,
                (o, dst) -> System.arraycopy(q, o * cols, dst, 0, cols), groupOf, groups, scales, zeros, bias));
        int n = 9;
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        int r0 = 3;
        int r1 = rows - 3;
        float[] out = new float[n * rows];
        m.multiply(x, cols, n, out, rows, r0, r1);
        float[] w = new float[cols];
        for (int o = 0; o < rows; o++) {
            m.row(o, w, 0);
            for (int i = 0; i < cols; i++) {
                int g = groupOf[i];
                assertEquals(Float.float16ToFloat(scales[g * rows + o]) * ((q[o * cols + i] & 0xff) - zeros[g * rows + o]), w[i], 1e-7f);
            }
            for (int t = 0; t < n; t++) {
                if (o < r0 || o >= r1) {
                    assertEquals(0f, out[t * rows + o], "rows outside the range stay untouched");
                    continue;
                }
                double y = bias[o];
                for (int i = 0; i < cols; i++) {
                    y += (double) w[i] * x[t * cols + i];
                }
                assertEquals(y, out[t * rows + o], 1e-4 * (1 + Math.abs(y)), "output " + o + ", token " + t);
            }
        }
        // 4-bit, group 128: packed words, one fp16 scale and one 8-bit zero per group and output.
        if (bits == 4 && cols / groups == 128) {
            assertTrue(m.byteSize() <= 0.27 * 2.0 * rows * cols, m.byteSize() + " bytes for " + rows * cols + " weights");
        }
    }
}
