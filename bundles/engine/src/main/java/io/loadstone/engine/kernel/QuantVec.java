package io.loadstone.engine.kernel;

import static io.loadstone.engine.kernel.Vectors.F;
import static io.loadstone.engine.kernel.Vectors.I;
import static io.loadstone.engine.kernel.Vectors.LANES;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Kernels for weights quantized at load time: int8 with one scale per row, and NF4 (4-bit
 * NormalFloat, the bitsandbytes code book) with one absmax per block of {@value #NF4_BLOCK}.
 *
 * <p>NF4 layout (ours, chosen for the kernel): each row is split into blocks of 64; a block is 32
 * bytes, byte j holding element j in its low nibble and element j+32 in its high nibble, so one
 * vector load yields two contiguous runs of elements.
 *
 * <p>As for stored weights: a fused dot product for one token, row widening for batches.
 */
public final class QuantVec {

    public static final int NF4_BLOCK = 64;

    /** bitsandbytes' NF4 code book (quantiles of N(0,1) scaled to [-1, 1]). */
    public static final float[] NF4_CODES = {
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
        -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
        0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    };

    private static final VectorSpecies<Byte> B = Vectors.B;
    private static final boolean VECTOR_NF4 = B != null && (LANES == 16 || LANES == 8);
    private static final int HALF = NF4_BLOCK / 2;

    private QuantVec() {
    }

    // ---------------------------------------------------------------- int8

    /** Σ q[row + c] · x[xo + c] (unscaled). */
    public static float int8Dot(MemorySegment w, long row, int cols, float[] x, int xo) {
        int c = 0;
        float s = 0;
        if (B != null) {
            int bound = F.loopBound(cols);
            FloatVector acc = FloatVector.zero(F);
            for (; c < bound; c += LANES) {
                acc = int8Vector(w, row + c).fma(FloatVector.fromArray(F, x, xo + c), acc);
            }
            s = Vectors.sum(acc);
        }
        for (; c < cols; c++) {
            s += w.get(ValueLayout.JAVA_BYTE, row + c) * x[xo + c];
        }
        return s;
    }

    private static FloatVector int8Vector(MemorySegment w, long at) {
        return (FloatVector) ByteVector.fromMemorySegment(B, w, at, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0);
    }

    public static void int8Row(MemorySegment w, float scale, int cols, int r, float[] dst, int off) {
        long row = (long) r * cols;
        int c = 0;
        if (B != null) {
            int bound = F.loopBound(cols);
            for (; c < bound; c += LANES) {
                int8Vector(w, row + c).mul(scale).intoArray(dst, off + c);
            }
        }
        for (; c < cols; c++) {
            dst[off + c] = w.get(ValueLayout.JAVA_BYTE, row + c) * scale;
        }
    }

    // ---------------------------------------------------------------- NF4

    /** Bytes per row: 32 per block of 64, the last block padded. */
    public static long nf4RowBytes(int cols) {
        return (long) ((cols + NF4_BLOCK - 1) / NF4_BLOCK) * HALF;
    }

    /** Σ W[r][c] · x[xo + c] for the NF4 row at byte offset {@code row}, absmax from index {@code a0}. */
    public static float nf4Dot(MemorySegment w, long row, float[] absmax, int a0, int cols, float[] x, int xo) {
        int full = cols / NF4_BLOCK;
        float s = 0;
        int b = 0;
        if (VECTOR_NF4) {
            FloatVector acc = FloatVector.zero(F);
            FloatVector lo = FloatVector.fromArray(F, NF4_CODES, 0);
            FloatVector hi = LANES == 16 ? lo : FloatVector.fromArray(F, NF4_CODES, 8);
            for (; b < full; b++) {
                long base = row + (long) b * HALF;
                int xb = xo + b * NF4_BLOCK;
                FloatVector bs = FloatVector.zero(F);
                for (int j = 0; j < HALF; j += LANES) {
                    ByteVector packed = ByteVector.fromMemorySegment(B, w, base + j, ByteOrder.LITTLE_ENDIAN);
                    bs = lookup(lo, hi, low(packed)).fma(FloatVector.fromArray(F, x, xb + j), bs);
                    bs = lookup(lo, hi, high(packed)).fma(FloatVector.fromArray(F, x, xb + j + HALF), bs);
                }
                acc = bs.fma(FloatVector.broadcast(F, absmax[a0 + b]), acc);
            }
            s = Vectors.sum(acc);
        }
        for (; b * NF4_BLOCK < cols; b++) {
            long base = row + (long) b * HALF;
            int len = Math.min(NF4_BLOCK, cols - b * NF4_BLOCK);
            float bs = 0;
            for (int e = 0; e < len; e++) {
                bs += nf4Value(w, base, e) * x[xo + b * NF4_BLOCK + e];
            }
            s += bs * absmax[a0 + b];
        }
        return s;
    }

    public static void nf4Row(MemorySegment w, float[] absmax, int cols, int r, float[] dst, int off) {
        int blocks = (cols + NF4_BLOCK - 1) / NF4_BLOCK;
        long row = r * nf4RowBytes(cols);
        int full = cols / NF4_BLOCK;
        int b = 0;
        if (VECTOR_NF4) {
            FloatVector lo = FloatVector.fromArray(F, NF4_CODES, 0);
            FloatVector hi = LANES == 16 ? lo : FloatVector.fromArray(F, NF4_CODES, 8);
            for (; b < full; b++) {
                long base = row + (long) b * HALF;
                float scale = absmax[r * blocks + b];
                int d = off + b * NF4_BLOCK;
                for (int j = 0; j < HALF; j += LANES) {
                    ByteVector packed = ByteVector.fromMemorySegment(B, w, base + j, ByteOrder.LITTLE_ENDIAN);
                    lookup(lo, hi, low(packed)).mul(scale).intoArray(dst, d + j);
                    lookup(lo, hi, high(packed)).mul(scale).intoArray(dst, d + j + HALF);
                }
            }
        }
        for (int c = b * NF4_BLOCK; c < cols; c++) {
            int blk = c / NF4_BLOCK;
            dst[off + c] = nf4Value(w, row + (long) blk * HALF, c % NF4_BLOCK) * absmax[r * blocks + blk];
        }
    }

    private static IntVector low(ByteVector packed) {
        return (IntVector) packed.and((byte) 0x0f).convertShape(VectorOperators.B2I, I, 0);
    }

    private static IntVector high(ByteVector packed) {
        return (IntVector) packed.lanewise(VectorOperators.LSHR, 4).and((byte) 0x0f).convertShape(VectorOperators.B2I, I, 0);
    }

    /** Code book lookup: one permute with 16 lanes; two and a blend with 8. */
    private static FloatVector lookup(FloatVector lo, FloatVector hi, IntVector idx) {
        if (LANES == 16) {
            return lo.rearrange(idx.toShuffle().cast(F));
        }
        VectorShuffle<Float> s = idx.and(7).toShuffle().cast(F);
        VectorMask<Float> upper = idx.compare(VectorOperators.GE, 8).cast(F);
        return lo.rearrange(s).blend(hi.rearrange(s), upper);
    }

    private static float nf4Value(MemorySegment w, long blockBase, int e) {
        int b = w.get(ValueLayout.JAVA_BYTE, blockBase + (e % HALF)) & 0xff;
        return NF4_CODES[e < HALF ? b & 0x0f : b >>> 4];
    }

    /** Index of the code nearest to {@code v} (in [-1, 1]); ties go to the lower code. */
    public static int nf4Encode(float v) {
        int best = 0;
        float bestErr = Float.MAX_VALUE;
        for (int i = 0; i < NF4_CODES.length; i++) {
            float e = Math.abs(NF4_CODES[i] - v);
            if (e < bestErr) {
                bestErr = e;
                best = i;
            }
        }
        return best;
    }
}
