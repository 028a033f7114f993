package io.loadstone.engine.tensor;

import static io.loadstone.engine.kernel.Vectors.B;
import static io.loadstone.engine.kernel.Vectors.F;
import static io.loadstone.engine.kernel.Vectors.I;
import static io.loadstone.engine.kernel.Vectors.LANES;

import io.loadstone.engine.kernel.ComputePool;
import io.loadstone.engine.kernel.QuantVec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Load-time weight quantization (bitsandbytes-like, weights only; activations stay float).
 * Rows are quantized in parallel, vectorized; the result lives off-heap in the model's arena.
 * Rounding is to nearest, ties to even (as torch.round).
 */
public final class Quantizer {

    /** Adding and subtracting 1.5·2^23 rounds a float below 2^22 to an integer, ties to even. */
    private static final float ROUNDER = 12582912f;

    private Quantizer() {
    }

    /**
     * A bfloat16 copy (round to nearest even, as torch's {@code .to(torch.bfloat16)}); a matrix
     * already stored as BF16 is returned as it is.
     */
    public static Matrix bf16(Matrix m, Arena arena, ComputePool pool) {
        if (m instanceof StoredMatrix s && s.dtype() == io.loadstone.engine.safetensors.DType.BF16) {
            return m;
        }
        int rows = m.rows();
        int cols = m.cols();
        MemorySegment out = arena.allocate((long) rows * cols * 2, 64);
        java.lang.foreign.ValueLayout.OfShort le = java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED
                .withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
        pool.parallelFor(rows, 16, (r0, r1) -> {
            float[] row = new float[cols];
            for (int r = r0; r < r1; r++) {
                m.row(r, row, 0);
                long base = (long) r * cols * 2;
                for (int c = 0; c < cols; c++) {
                    out.set(le, base + 2L * c, io.loadstone.engine.kernel.Vectors.floatToBf16(row[c]));
                }
            }
        });
        return new StoredMatrix(m.name(), rows, cols, io.loadstone.engine.safetensors.DType.BF16, out);
    }

    /** Per-row absmax int8: {@code q = round(w · 127 / absmax)}. */
    public static Matrix int8(Matrix m, Arena arena, ComputePool pool) {
        int rows = m.rows();
        int cols = m.cols();
        MemorySegment q = arena.allocate((long) rows * cols, 64);
        float[] scales = new float[rows];
        pool.parallelFor(rows, 16, (r0, r1) -> {
            float[] row = new float[cols];
            byte[] out = new byte[cols];
            for (int r = r0; r < r1; r++) {
                m.row(r, row, 0);
                float absmax = absmax(row, 0, cols);
                float scale = absmax / 127f;
                scales[r] = scale;
                float inv = scale == 0 ? 0 : 1f / scale;
                int c = 0;
                for (int bound = B == null ? 0 : F.loopBound(cols); c < bound; c += LANES) {
                    rounded(FloatVector.fromArray(F, row, c).mul(inv)).convertShape(VectorOperators.I2B, B, 0)
                            .reinterpretAsBytes().intoArray(out, c);
                }
                for (; c < cols; c++) {
                    out[c] = (byte) Math.rint(row[c] * inv);
                }
                MemorySegment.copy(out, 0, q, java.lang.foreign.ValueLayout.JAVA_BYTE, (long) r * cols, cols);
            }
        });
        return new Int8Matrix(m.name(), rows, cols, q, scales);
    }

    /** NF4 with one absmax per block of 64 along each row. */
    public static Matrix nf4(Matrix m, Arena arena, ComputePool pool) {
        int rows = m.rows();
        int cols = m.cols();
        int block = QuantVec.NF4_BLOCK;
        int half = block / 2;
        int blocks = (cols + block - 1) / block;
        int rowBytes = (int) QuantVec.nf4RowBytes(cols);
        MemorySegment packed = arena.allocate((long) rows * rowBytes, 64);
        float[] absmax = new float[rows * blocks];
        float[] midpoints = new float[15];
        for (int i = 0; i < 15; i++) {
            midpoints[i] = (QuantVec.NF4_CODES[i] + QuantVec.NF4_CODES[i + 1]) / 2;
        }
        pool.parallelFor(rows, 16, (r0, r1) -> {
            float[] row = new float[blocks * block];
            int[] codes = new int[block];
            byte[] out = new byte[rowBytes];
            for (int r = r0; r < r1; r++) {
                java.util.Arrays.fill(row, 0f);
                m.row(r, row, 0);
                for (int b = 0; b < blocks; b++) {
                    int start = b * block;
                    float max = absmax(row, start, block);
                    absmax[r * blocks + b] = max;
                    float inv = max == 0 ? 0 : 1f / max;
                    encode(row, start, inv, midpoints, codes);
                    for (int j = 0; j < half; j++) {
                        out[b * half + j] = (byte) (codes[j] | codes[j + half] << 4);
                    }
                }
                MemorySegment.copy(out, 0, packed, java.lang.foreign.ValueLayout.JAVA_BYTE, (long) r * rowBytes, rowBytes);
            }
        });
        return new Nf4Matrix(m.name(), rows, cols, packed, absmax);
    }

    /**
     * Nearest NF4 code of each {@code v·inv} in a block: the number of midpoints between adjacent
     * codes that the value exceeds (a tie stays on the lower code).
     */
    private static void encode(float[] row, int start, float inv, float[] midpoints, int[] codes) {
        int e = 0;
        for (; e + LANES <= codes.length; e += LANES) {
            FloatVector v = FloatVector.fromArray(F, row, start + e).mul(inv);
            IntVector idx = IntVector.zero(I);
            for (float mid : midpoints) {
                idx = idx.add(1, v.compare(VectorOperators.GT, mid).cast(I));
            }
            idx.intoArray(codes, e);
        }
        for (; e < codes.length; e++) {
            codes[e] = QuantVec.nf4Encode(row[start + e] * inv);
        }
    }

    private static IntVector rounded(FloatVector v) {
        return (IntVector) v.add(ROUNDER).sub(ROUNDER).convertShape(VectorOperators.F2I, I, 0);
    }

    private static float absmax(float[] row, int start, int len) {
        int e = 0;
        FloatVector m = FloatVector.zero(F);
        for (; e + LANES <= len; e += LANES) {
            m = m.max(FloatVector.fromArray(F, row, start + e).abs());
        }
        float max = m.reduceLanes(VectorOperators.MAX);
        for (; e < len; e++) {
            max = Math.max(max, Math.abs(row[start + e]));
        }
        return max;
    }
}
