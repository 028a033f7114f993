package io.loadstone.engine.kernel;

import static io.loadstone.engine.kernel.Vectors.F;
import static io.loadstone.engine.kernel.Vectors.LANES;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** Element-wise and reduction kernels on float activations (heap arrays, offset + length). */
public final class Ops {

    private Ops() {
    }

    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int bound = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i < bound; i += LANES) {
            acc = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc);
        }
        float s = Vectors.sum(acc);
        for (; i < n; i++) {
            s += a[ao + i] * b[bo + i];
        }
        return s;
    }

    /** {@code y += a·x}. */
    public static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        int bound = F.loopBound(n);
        FloatVector va = FloatVector.broadcast(F, a);
        int i = 0;
        for (; i < bound; i += LANES) {
            FloatVector.fromArray(F, x, xo + i).fma(va, FloatVector.fromArray(F, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] += a * x[xo + i];
        }
    }

    /** {@code y += x}. */
    public static void add(float[] y, int yo, float[] x, int xo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += LANES) {
            FloatVector.fromArray(F, y, yo + i).add(FloatVector.fromArray(F, x, xo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] += x[xo + i];
        }
    }

    /** {@code y *= a}. */
    public static void scale(float[] y, int yo, float a, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += LANES) {
            FloatVector.fromArray(F, y, yo + i).mul(a).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] *= a;
        }
    }

    /**
     * RMSNorm as Hugging Face's LlamaRMSNorm computes it in float32:
     * {@code w · (x / sqrt(mean(x²) + eps))}.
     */
    public static void rmsNorm(float[] x, int xo, float[] w, float eps, float[] out, int oo, int n) {
        int bound = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i < bound; i += LANES) {
            FloatVector v = FloatVector.fromArray(F, x, xo + i);
            acc = v.fma(v, acc);
        }
        float ss = Vectors.sum(acc);
        for (; i < n; i++) {
            ss += x[xo + i] * x[xo + i];
        }
        float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
        i = 0;
        for (; i < bound; i += LANES) {
            FloatVector.fromArray(F, x, xo + i).mul(inv).mul(FloatVector.fromArray(F, w, i)).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            out[oo + i] = w[i] * (x[xo + i] * inv);
        }
    }

    /** In-place softmax over {@code x[off, off+n)}, max-subtracted. */
    public static void softmax(float[] x, int off, int n) {
        int bound = F.loopBound(n);
        float max = Float.NEGATIVE_INFINITY;
        int i = 0;
        if (bound > 0) {
            FloatVector m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (; i < bound; i += LANES) {
                m = m.max(FloatVector.fromArray(F, x, off + i));
            }
            max = m.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        FloatVector sum = FloatVector.zero(F);
        i = 0;
        for (; i < bound; i += LANES) {
            FloatVector e = Vectors.exp(FloatVector.fromArray(F, x, off + i).sub(max));
            e.intoArray(x, off + i);
            sum = sum.add(e);
        }
        float s = Vectors.sum(sum);
        for (; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            s += e;
        }
        scale(x, off, 1f / s, n);
    }

    /** SwiGLU: {@code gate[i] = silu(gate[i]) · up[i]} with silu(g) = g / (1 + e^-g). */
    public static void siluMul(float[] gate, int go, float[] up, int uo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += LANES) {
            FloatVector g = FloatVector.fromArray(F, gate, go + i);
            FloatVector sig = Vectors.exp(g.neg()).add(1f);
            g.div(sig).mul(FloatVector.fromArray(F, up, uo + i)).intoArray(gate, go + i);
        }
        for (; i < n; i++) {
            float g = gate[go + i];
            gate[go + i] = (float) (g / (1.0 + Math.exp(-g))) * up[uo + i];
        }
    }
}
