package io.loadstone.engine.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.engine.kernel.ComputePool;
import io.loadstone.engine.kernel.QuantVec;
import io.loadstone.engine.safetensors.DType;
import io.loadstone.engine.safetensors.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Quantized matrices: the vector kernels (one token, fused; several tokens, via a dequantized
 * row) must compute exactly what their own dequantization says, for widths that are not
 * multiples of the vector length or of the NF4 block, and the round-trip error must stay
 * within the format's bound.
 */
class QuantizerTest {

    private static StoredMatrix randomF32(Arena arena, int rows, int cols, long seed) {
        MemorySegment seg = arena.allocate(4L * rows * cols);
        Random r = new Random(seed);
        for (long i = 0; i < (long) rows * cols; i++) {
            float v = (float) (r.nextGaussian() * 0.05);
            if (r.nextInt(500) == 0) {
                v *= 20; // outliers, as real weights have
            }
            seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, v);
        }
        return new StoredMatrix(new TensorInfo("w", DType.F32, new long[] {rows, cols}, Path.of("mem"), seg));
    }

    @ParameterizedTest(name = "{0} {1}x{2}")
    @CsvSource({"INT8, 37, 172", "INT8, 64, 2048", "INT8, 5, 7", "NF4, 37, 172", "NF4, 64, 2048", "NF4, 9, 64", "NF4, 5, 7"})
    void kernelsAgreeWithDequantizedRowsAndErrorIsBounded(String type, int rows, int cols) {
        try (Arena arena = Arena.ofShared(); ComputePool pool = new ComputePool(2, "test")) {
            StoredMatrix w = randomF32(arena, rows, cols, rows * 31L + cols);
            Matrix q = type.equals("INT8") ? Quantizer.int8(w, arena, pool) : Quantizer.nf4(w, arena, pool);
            assertEquals(type, q.type());
            int n = 6;
            float[] x = new float[n * cols];
            Random r = new Random(3);
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) r.nextGaussian();
            }
            float[] batched = new float[n * rows];
            q.multiply(pool, x, cols, n, batched, rows);
            float[] orig = new float[cols];
            float[] deq = new float[cols];
            for (int row = 0; row < rows; row++) {
                w.row(row, orig, 0);
                q.row(row, deq, 0);
                float absmax = 0;
                for (float v : orig) {
                    absmax = Math.max(absmax, Math.abs(v));
                }
                for (int c = 0; c < cols; c++) {
                    float bound = type.equals("INT8") ? absmax / 254 * 1.0001f : nf4Bound(orig, c);
                    assertTrue(Math.abs(orig[c] - deq[c]) <= bound, type + " row " + row + " col " + c + ": " + orig[c] + " -> " + deq[c]);
                }
                for (int t = 0; t < n; t++) {
                    double expect = 0;
                    double mag = 0;
                    for (int c = 0; c < cols; c++) {
                        expect += (double) deq[c] * x[t * cols + c];
                        mag += Math.abs((double) deq[c] * x[t * cols + c]);
                    }
                    float tol = (float) (mag * 1e-6 + 1e-7);
                    assertEquals(expect, batched[t * rows + row], tol, "batched row " + row + " token " + t);
                    float[] single = new float[rows];
                    q.multiply(x, cols, 1, single, rows, row, row + 1);
                    // multiply(x, ...) with n=1 reads token 0; shift the input for other tokens.
                    float[] xt = java.util.Arrays.copyOfRange(x, t * cols, (t + 1) * cols);
                    q.multiply(xt, cols, 1, single, rows, row, row + 1);
                    assertEquals(expect, single[row], tol, "single-token row " + row + " token " + t);
                }
            }
        }
    }

    /** Half the widest gap between NF4 codes around the value, times its block's absmax. */
    private static float nf4Bound(float[] row, int c) {
        int start = c / QuantVec.NF4_BLOCK * QuantVec.NF4_BLOCK;
        float absmax = 0;
        for (int i = start; i < Math.min(row.length, start + QuantVec.NF4_BLOCK); i++) {
            absmax = Math.max(absmax, Math.abs(row[i]));
        }
        float maxGap = 0;
        for (int i = 1; i < QuantVec.NF4_CODES.length; i++) {
            maxGap = Math.max(maxGap, QuantVec.NF4_CODES[i] - QuantVec.NF4_CODES[i - 1]);
        }
        return absmax * maxGap / 2 * 1.0001f;
    }
}
