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
        // Weights enter scaled by 2^-112 (their bits as they lie, one multiply fewer per vector);
        // the sum is scaled back once. Products that fall below float's normal range then round
        // to a grid of 2^-150 · 2^112 = 2^-38 in the true scale: far below F16's own precision.
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        int c = 0;
        for (; c + LANES < bound; c += 2 * LANES) {
            a0 = Vectors.halfToFloatScaledDown(ShortVector.fromMemorySegment(H, w, row + 2L * c, LE)).fma(FloatVector.fromArray(F, x, xo + c), a0);
            a1 = Vectors.halfToFloatScaledDown(ShortVector.fromMemorySegment(H, w, row + 2L * (c + LANES), LE))
                    .fma(FloatVector.fromArray(F, x, xo + c + LANES), a1);
        }
        for (; c < bound; c += LANES) {
            a0 = Vectors.halfToFloatScaledDown(ShortVector.fromMemorySegment(H, w, row + 2L * c, LE)).fma(FloatVector.fromArray(F, x, xo + c), a0);
        }
        float s = Vectors.sum(a0.add(a1)) * 0x1p112f;
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
     * (row i, token t) goes to {@code out[oo + t·os + i]}. {@code acc} is scratch of
     * {@code 16·LANES} floats.
     *
     * <p>The accumulators leave through {@code acc} rather than as arguments of a reducing call:
     * if the JIT declined to inline that call (it does when the callee was compiled first and is
     * large) every vector would be boxed on each tile.
     */
    public static void tile4x4(float[] w, int wo, int cols, float[] x, int xo, int xs, float[] out, int oo, int os, float[] acc) {
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
        for (int c = 0; c < bound; c += LANES) {
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
        a00.intoArray(acc, 0);
        a01.intoArray(acc, LANES);
        a02.intoArray(acc, 2 * LANES);
        a03.intoArray(acc, 3 * LANES);
        a10.intoArray(acc, 4 * LANES);
        a11.intoArray(acc, 5 * LANES);
        a12.intoArray(acc, 6 * LANES);
        a13.intoArray(acc, 7 * LANES);
        a20.intoArray(acc, 8 * LANES);
        a21.intoArray(acc, 9 * LANES);
        a22.intoArray(acc, 10 * LANES);
        a23.intoArray(acc, 11 * LANES);
        a30.intoArray(acc, 12 * LANES);
        a31.intoArray(acc, 13 * LANES);
        a32.intoArray(acc, 14 * LANES);
        a33.intoArray(acc, 15 * LANES);
        finish(acc, w, wo, bound, cols, x, xo, xs, out, oo, os);
    }

    /** Reduces the 16 accumulators in {@code acc}, adds the columns from {@code c} on, stores. */
    private static void finish(float[] acc, float[] w, int wo, int c, int cols, float[] x, int xo, int xs, float[] out, int oo,
            int os) {
        for (int i = 0; i < 4; i++) {
            for (int t = 0; t < 4; t++) {
                float s = Vectors.sum(FloatVector.fromArray(F, acc, (4 * i + t) * LANES));
                for (int k = c; k < cols; k++) {
                    s += w[wo + i * cols + k] * x[xo + t * xs + k];
                }
                out[oo + t * os + i] = s;
            }
        }
    }
}
