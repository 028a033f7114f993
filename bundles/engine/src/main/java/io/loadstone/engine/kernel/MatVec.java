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
 * Matrix × activations for weights kept in their stored type (F32, F16, BF16) inside a mapped
 * file: {@code out[t*os + r] = Σ_c W[r][c] · x[t*xs + c]} for rows {@code [r0, r1)} and tokens
 * {@code [0, n)}.
 *
 * <p>Weights are widened to float in registers, never copied. With several tokens (prompt
 * processing) each loaded weight vector is used for four tokens at once, so the weight stream
 * and its conversion are paid once per four tokens; the row, a few kilobytes, stays in L1 while
 * the token blocks go by. One token (generation) is bound by memory bandwidth, so that path just
 * keeps two accumulators in flight.
 *
 * <p>One method per stored type on purpose: a shared loop calling a per-type "load" would be a
 * megamorphic call in the innermost loop.
 */
public final class MatVec {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);

    private MatVec() {
    }

    // ---------------------------------------------------------------- F32

    public static void f32(MemorySegment w, int cols, float[] x, int xs, int n, float[] out, int os, int r0, int r1) {
        int bound = F.loopBound(cols);
        for (int r = r0; r < r1; r++) {
            long row = (long) r * cols * 4;
            int t = 0;
            for (; t + 4 <= n; t += 4) {
                int x0 = t * xs;
                int x1 = x0 + xs;
                int x2 = x1 + xs;
                int x3 = x2 + xs;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                FloatVector a2 = FloatVector.zero(F);
                FloatVector a3 = FloatVector.zero(F);
                int c = 0;
                for (; c < bound; c += LANES) {
                    FloatVector v = FloatVector.fromMemorySegment(F, w, row + 4L * c, LE);
                    a0 = v.fma(FloatVector.fromArray(F, x, x0 + c), a0);
                    a1 = v.fma(FloatVector.fromArray(F, x, x1 + c), a1);
                    a2 = v.fma(FloatVector.fromArray(F, x, x2 + c), a2);
                    a3 = v.fma(FloatVector.fromArray(F, x, x3 + c), a3);
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD);
                float s1 = a1.reduceLanes(VectorOperators.ADD);
                float s2 = a2.reduceLanes(VectorOperators.ADD);
                float s3 = a3.reduceLanes(VectorOperators.ADD);
                for (; c < cols; c++) {
                    float v = w.get(F32, row + 4L * c);
                    s0 += v * x[x0 + c];
                    s1 += v * x[x1 + c];
                    s2 += v * x[x2 + c];
                    s3 += v * x[x3 + c];
                }
                out[t * os + r] = s0;
                out[(t + 1) * os + r] = s1;
                out[(t + 2) * os + r] = s2;
                out[(t + 3) * os + r] = s3;
            }
            for (; t < n; t++) {
                int x0 = t * xs;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                int c = 0;
                for (; c + LANES < bound; c += 2 * LANES) {
                    a0 = FloatVector.fromMemorySegment(F, w, row + 4L * c, LE).fma(FloatVector.fromArray(F, x, x0 + c), a0);
                    a1 = FloatVector.fromMemorySegment(F, w, row + 4L * (c + LANES), LE)
                            .fma(FloatVector.fromArray(F, x, x0 + c + LANES), a1);
                }
                for (; c < bound; c += LANES) {
                    a0 = FloatVector.fromMemorySegment(F, w, row + 4L * c, LE).fma(FloatVector.fromArray(F, x, x0 + c), a0);
                }
                float s = a0.add(a1).reduceLanes(VectorOperators.ADD);
                for (; c < cols; c++) {
                    s += w.get(F32, row + 4L * c) * x[x0 + c];
                }
                out[t * os + r] = s;
            }
        }
    }

    // ---------------------------------------------------------------- F16

    public static void f16(MemorySegment w, int cols, float[] x, int xs, int n, float[] out, int os, int r0, int r1) {
        int bound = F.loopBound(cols);
        for (int r = r0; r < r1; r++) {
            long row = (long) r * cols * 2;
            int t = 0;
            for (; t + 4 <= n; t += 4) {
                int x0 = t * xs;
                int x1 = x0 + xs;
                int x2 = x1 + xs;
                int x3 = x2 + xs;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                FloatVector a2 = FloatVector.zero(F);
                FloatVector a3 = FloatVector.zero(F);
                int c = 0;
                for (; c < bound; c += LANES) {
                    FloatVector v = Vectors.halfToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * c, LE));
                    a0 = v.fma(FloatVector.fromArray(F, x, x0 + c), a0);
                    a1 = v.fma(FloatVector.fromArray(F, x, x1 + c), a1);
                    a2 = v.fma(FloatVector.fromArray(F, x, x2 + c), a2);
                    a3 = v.fma(FloatVector.fromArray(F, x, x3 + c), a3);
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD);
                float s1 = a1.reduceLanes(VectorOperators.ADD);
                float s2 = a2.reduceLanes(VectorOperators.ADD);
                float s3 = a3.reduceLanes(VectorOperators.ADD);
                for (; c < cols; c++) {
                    float v = Float.float16ToFloat(w.get(U16, row + 2L * c));
                    s0 += v * x[x0 + c];
                    s1 += v * x[x1 + c];
                    s2 += v * x[x2 + c];
                    s3 += v * x[x3 + c];
                }
                out[t * os + r] = s0;
                out[(t + 1) * os + r] = s1;
                out[(t + 2) * os + r] = s2;
                out[(t + 3) * os + r] = s3;
            }
            for (; t < n; t++) {
                int x0 = t * xs;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                int c = 0;
                for (; c + LANES < bound; c += 2 * LANES) {
                    a0 = Vectors.halfToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * c, LE))
                            .fma(FloatVector.fromArray(F, x, x0 + c), a0);
                    a1 = Vectors.halfToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * (c + LANES), LE))
                            .fma(FloatVector.fromArray(F, x, x0 + c + LANES), a1);
                }
                for (; c < bound; c += LANES) {
                    a0 = Vectors.halfToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * c, LE))
                            .fma(FloatVector.fromArray(F, x, x0 + c), a0);
                }
                float s = a0.add(a1).reduceLanes(VectorOperators.ADD);
                for (; c < cols; c++) {
                    s += Float.float16ToFloat(w.get(U16, row + 2L * c)) * x[x0 + c];
                }
                out[t * os + r] = s;
            }
        }
    }

    // ---------------------------------------------------------------- BF16

    public static void bf16(MemorySegment w, int cols, float[] x, int xs, int n, float[] out, int os, int r0, int r1) {
        int bound = F.loopBound(cols);
        for (int r = r0; r < r1; r++) {
            long row = (long) r * cols * 2;
            int t = 0;
            for (; t + 4 <= n; t += 4) {
                int x0 = t * xs;
                int x1 = x0 + xs;
                int x2 = x1 + xs;
                int x3 = x2 + xs;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                FloatVector a2 = FloatVector.zero(F);
                FloatVector a3 = FloatVector.zero(F);
                int c = 0;
                for (; c < bound; c += LANES) {
                    FloatVector v = Vectors.bf16ToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * c, LE));
                    a0 = v.fma(FloatVector.fromArray(F, x, x0 + c), a0);
                    a1 = v.fma(FloatVector.fromArray(F, x, x1 + c), a1);
                    a2 = v.fma(FloatVector.fromArray(F, x, x2 + c), a2);
                    a3 = v.fma(FloatVector.fromArray(F, x, x3 + c), a3);
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD);
                float s1 = a1.reduceLanes(VectorOperators.ADD);
                float s2 = a2.reduceLanes(VectorOperators.ADD);
                float s3 = a3.reduceLanes(VectorOperators.ADD);
                for (; c < cols; c++) {
                    float v = Vectors.bf16ToFloat(w.get(U16, row + 2L * c));
                    s0 += v * x[x0 + c];
                    s1 += v * x[x1 + c];
                    s2 += v * x[x2 + c];
                    s3 += v * x[x3 + c];
                }
                out[t * os + r] = s0;
                out[(t + 1) * os + r] = s1;
                out[(t + 2) * os + r] = s2;
                out[(t + 3) * os + r] = s3;
            }
            for (; t < n; t++) {
                int x0 = t * xs;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                int c = 0;
                for (; c + LANES < bound; c += 2 * LANES) {
                    a0 = Vectors.bf16ToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * c, LE))
                            .fma(FloatVector.fromArray(F, x, x0 + c), a0);
                    a1 = Vectors.bf16ToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * (c + LANES), LE))
                            .fma(FloatVector.fromArray(F, x, x0 + c + LANES), a1);
                }
                for (; c < bound; c += LANES) {
                    a0 = Vectors.bf16ToFloat(ShortVector.fromMemorySegment(H, w, row + 2L * c, LE))
                            .fma(FloatVector.fromArray(F, x, x0 + c), a0);
                }
                float s = a0.add(a1).reduceLanes(VectorOperators.ADD);
                for (; c < cols; c++) {
                    s += Vectors.bf16ToFloat(w.get(U16, row + 2L * c)) * x[x0 + c];
                }
                out[t * os + r] = s;
            }
        }
    }

    /** Converts row {@code r} of a stored-type matrix to floats (embedding lookup, tests). */
    public static void row(MemorySegment w, int elementSize, boolean bf16, int cols, int r, float[] dst, int off) {
        long row = (long) r * cols * elementSize;
        for (int c = 0; c < cols; c++) {
            dst[off + c] = switch (elementSize) {
                case 4 -> w.get(F32, row + 4L * c);
                default -> bf16 ? Vectors.bf16ToFloat(w.get(U16, row + 2L * c)) : Float.float16ToFloat(w.get(U16, row + 2L * c));
            };
        }
    }
}
