package io.loadstone.engine.kernel;

import static io.loadstone.engine.kernel.Vectors.F;
import static io.loadstone.engine.kernel.Vectors.H;
import static io.loadstone.engine.kernel.Vectors.LANES;
import static io.loadstone.engine.kernel.Vectors.LE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Kernels for weights kept in their stored type (F32, F16, BF16) inside a mapped file.
 *
 * <p>Two shapes of work:
 * <ul>
 * <li>one token (generation) is bound by memory bandwidth: {@code dot*} widen each weight
 *     vector in registers and multiply at once, with several accumulators in flight;</li>
 * <li>a batch of tokens (prompt) is bound by arithmetic: {@code widen*} turn a few rows into
 *     floats once, and {@link #tile4x4} multiplies 4 rows by 4 tokens with 16 accumulators, so
 *     every load feeds several FMAs and the conversion is paid once per batch, not per token.</li>
 * </ul>
 * Methods are small on purpose: the JIT must inline every Vector API call into them to turn it
 * into machine vectors, and a large method exhausts its inlining budget (measured: the old
 * single-method kernel fell back to boxed vector objects in part).
 */
public final class MatVec {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);

    private MatVec() {
    }

    // ---------------------------------------------------------------- one token

    /** Σ W[row..row+cols) · x[xo..], W F32 at byte offset {@code row}. */
    public static float dotF32(MemorySegment w, long row, int cols, float[] x, int xo) {
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        int c = 0;
        for (; c + LANES < bound; c += 2 * LANES) {
            a0 = FloatVector.fromMemorySegment(F, w, row + 4L * c, LE).fma(FloatVector.fromArray(F, x, xo + c), a0);
            a1 = FloatVector.fromMemorySegment(F, w, row + 4L * (c + LANES), LE).fma(FloatVector.fromArray(F, x, xo + c + LANES), a1);
        }
        for (; c < bound; c += LANES) {
            a0 = FloatVector.fromMemorySegment(F, w, row + 4L * c, LE).fma(FloatVector.fromArray(F, x, xo + c), a0);
        }
        float s = Vectors.sum(a0.add(a1));
        for (; c < cols; c++) {
            s += w.get(F32, row + 4L * c) * x[xo + c];
        }
        return s;
    }

    public static float dotF16(MemorySegment w, long row, int cols, float[] x, int xo) {
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        int c = 0;
        for (; c + LANES < bound; c += 2 * LANES) {
            a0 = Vectors.halfToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * c, LE)).fma(FloatVector.fromArray(F, x, xo + c), a0);
            a1 = Vectors.halfToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * (c + LANES), LE))
                    .fma(FloatVector.fromArray(F, x, xo + c + LANES), a1);
        }
        for (; c < bound; c += LANES) {
            a0 = Vectors.halfToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * c, LE)).fma(FloatVector.fromArray(F, x, xo + c), a0);
        }
        float s = Vectors.sum(a0.add(a1));
        for (; c < cols; c++) {
            s += Float.float16ToFloat(w.get(U16, row + 2L * c)) * x[xo + c];
        }
        return s;
    }

    public static float dotBF16(MemorySegment w, long row, int cols, float[] x, int xo) {
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        int c = 0;
        for (; c + LANES < bound; c += 2 * LANES) {
            a0 = Vectors.bf16ToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * c, LE)).fma(FloatVector.fromArray(F, x, xo + c), a0);
            a1 = Vectors.bf16ToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * (c + LANES), LE))
                    .fma(FloatVector.fromArray(F, x, xo + c + LANES), a1);
        }
        for (; c < bound; c += LANES) {
            a0 = Vectors.bf16ToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * c, LE)).fma(FloatVector.fromArray(F, x, xo + c), a0);
        }
        float s = Vectors.sum(a0.add(a1));
        for (; c < cols; c++) {
            s += Vectors.bf16ToFloat(w.get(U16, row + 2L * c)) * x[xo + c];
        }
        return s;
    }

    // ---------------------------------------------------------------- widening rows

    public static void widenF32(MemorySegment w, long row, int cols, float[] dst, int off) {
        MemorySegment.copy(w, F32, row, dst, off, cols);
    }

    public static void widenF16(MemorySegment w, long row, int cols, float[] dst, int off) {
        // A plain loop on purpose: C2 turns Float.float16ToFloat over a segment into the CPU's
        // half-to-float instruction (vcvtph2ps), which the Vector API cannot express.
        for (int c = 0; c < cols; c++) {
            dst[off + c] = Float.float16ToFloat(w.get(U16, row + 2L * c));
        }
    }

    public static void widenBF16(MemorySegment w, long row, int cols, float[] dst, int off) {
        // Vector API here: unlike the F16 loop above, C2 does not vectorize the scalar form (4x slower).
        int bound = F.loopBound(cols);
        int c = 0;
        for (; c < bound; c += LANES) {
            Vectors.bf16ToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * c, LE)).intoArray(dst, off + c);
        }
        for (; c < cols; c++) {
            dst[off + c] = Vectors.bf16ToFloat(w.get(U16, row + 2L * c));
        }
    }

    // ---------------------------------------------------------------- batch micro-kernel

    /**
     * 4 rows × 4 tokens: rows at {@code w[wo + i·cols]}, tokens at {@code x[xo + t·xs]}; result
     * (row i, token t) goes to {@code out[oo + t·os + i]}.
     */
    public static void tile4x4(float[] w, int wo, int cols, float[] x, int xo, int xs, float[] out, int oo, int os) {
        int w1 = wo + cols;
        int w2 = w1 + cols;
        int w3 = w2 + cols;
        int x1 = xo + xs;
        int x2 = x1 + xs;
        int x3 = x2 + xs;
        FloatVector a00 = FloatVector.zero(F);
        FloatVector a01 = FloatVector.zero(F);
        FloatVector a02 = FloatVector.zero(F);
        FloatVector a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F);
        FloatVector a11 = FloatVector.zero(F);
        FloatVector a12 = FloatVector.zero(F);
        FloatVector a13 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F);
        FloatVector a21 = FloatVector.zero(F);
        FloatVector a22 = FloatVector.zero(F);
        FloatVector a23 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F);
        FloatVector a31 = FloatVector.zero(F);
        FloatVector a32 = FloatVector.zero(F);
        FloatVector a33 = FloatVector.zero(F);
        int bound = F.loopBound(cols);
        int c = 0;
        for (; c < bound; c += LANES) {
            FloatVector t0 = FloatVector.fromArray(F, x, xo + c);
            FloatVector t1 = FloatVector.fromArray(F, x, x1 + c);
            FloatVector t2 = FloatVector.fromArray(F, x, x2 + c);
            FloatVector t3 = FloatVector.fromArray(F, x, x3 + c);
            FloatVector r = FloatVector.fromArray(F, w, wo + c);
            a00 = r.fma(t0, a00);
            a01 = r.fma(t1, a01);
            a02 = r.fma(t2, a02);
            a03 = r.fma(t3, a03);
            r = FloatVector.fromArray(F, w, w1 + c);
            a10 = r.fma(t0, a10);
            a11 = r.fma(t1, a11);
            a12 = r.fma(t2, a12);
            a13 = r.fma(t3, a13);
            r = FloatVector.fromArray(F, w, w2 + c);
            a20 = r.fma(t0, a20);
            a21 = r.fma(t1, a21);
            a22 = r.fma(t2, a22);
            a23 = r.fma(t3, a23);
            r = FloatVector.fromArray(F, w, w3 + c);
            a30 = r.fma(t0, a30);
            a31 = r.fma(t1, a31);
            a32 = r.fma(t2, a32);
            a33 = r.fma(t3, a33);
        }
        store(a00, a01, a02, a03, w, wo, c, cols, x, xo, xs, out, oo, os);
        store(a10, a11, a12, a13, w, w1, c, cols, x, xo, xs, out, oo + 1, os);
        store(a20, a21, a22, a23, w, w2, c, cols, x, xo, xs, out, oo + 2, os);
        store(a30, a31, a32, a33, w, w3, c, cols, x, xo, xs, out, oo + 3, os);
    }

    /** Reduces one row's four accumulators, adds the scalar tail from column {@code c}, stores. */
    private static void store(FloatVector a0, FloatVector a1, FloatVector a2, FloatVector a3, float[] w, int wo, int c, int cols,
            float[] x, int xo, int xs, float[] out, int oo, int os) {
        float s0 = Vectors.sum(a0);
        float s1 = Vectors.sum(a1);
        float s2 = Vectors.sum(a2);
        float s3 = Vectors.sum(a3);
        for (; c < cols; c++) {
            float v = w[wo + c];
            s0 += v * x[xo + c];
            s1 += v * x[xo + xs + c];
            s2 += v * x[xo + 2 * xs + c];
            s3 += v * x[xo + 3 * xs + c];
        }
        out[oo] = s0;
        out[oo + os] = s1;
        out[oo + 2 * os] = s2;
        out[oo + 3 * os] = s3;
    }
}
