package io.loadstone.engine.tensor;

import io.loadstone.engine.kernel.ComputePool;
import io.loadstone.engine.kernel.Ops;
import io.loadstone.engine.safetensors.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

/**
 * A base matrix with LoRA adapters on top, applied at run time as PEFT's {@code LoraLayer}
 * does: {@code y = W·x + Σ_i s_i · B_i·(A_i·x)}; the base weights (stored, int8, NF4 or a
 * loader's format) are never changed.
 *
 * <p>The adapters are stacked: {@code A} holds every adapter's rows ({@code R = Σ r_i} rows of
 * {@code cols}), {@code B} every adapter's columns ({@code rows × R}), and each of the {@code R}
 * low-rank features carries its adapter's scale. A product first computes the low-rank features
 * {@code h = s·(A·x)} of every token once (a small {@code R × cols} product), then adds
 * {@code B·h} to each output row of the base product; {@link Matrix#multiplyAll} computes
 * {@code h} before splitting rows among threads, so it is not recomputed per row range.
 */
public final class LoraMatrix extends Matrix {

    /** Below this many multiply-adds the {@code A} products of a call run on the calling thread. */
    private static final long SERIAL_WORK = 1 << 18;

    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One adapter's factors for this matrix, fp32, row-major: {@code a[rank][cols]}, {@code b[rows][rank]}. */
    public record Factors(int rank, float[] a, float[] b, float scale) {
    }

    private final Matrix base;
    private final int rank;
    /** {@code A} stacked, F32 off-heap (GC-managed) so the vector kernels read it like any stored matrix. */
    private final StoredMatrix a;
    /**
     * {@code B} stacked and transposed, {@code [rank][rows]}: adding {@code B·h} is then one
     * vectorized {@code y += h_k·Bᵀ[k]} per feature over contiguous output rows, with no
     * horizontal sums of short rank-long dot products.
     */
    private final float[] bt;
    private final float[] scales;

    public LoraMatrix(Matrix base, List<Factors> adapters) {
        super(base.name(), base.rows(), base.cols());
        if (base instanceof LoraMatrix) {
            throw new IllegalArgumentException(base.name() + " already carries adapters; wrap the base matrix");
        }
        this.base = base;
        int total = 0;
        for (Factors f : adapters) {
            if (f.a.length != f.rank * cols || f.b.length != rows * f.rank) {
                throw new IllegalArgumentException(name + ": LoRA factors of rank " + f.rank + " do not fit " + rows + " x " + cols);
            }
            total += f.rank;
        }
        if (total == 0) {
            throw new IllegalArgumentException(name + ": no LoRA factors");
        }
        this.rank = total;
        MemorySegment seg = Arena.ofAuto().allocate((long) total * cols * Float.BYTES, 64);
        this.bt = new float[total * rows];
        this.scales = new float[total];
        int k0 = 0;
        for (Factors f : adapters) {
            for (int i = 0; i < f.a.length; i++) {
                seg.setAtIndex(LE_FLOAT, (long) k0 * cols + i, f.a[i]);
            }
            for (int r = 0; r < rows; r++) {
                for (int k = 0; k < f.rank; k++) {
                    bt[(k0 + k) * rows + r] = f.b[r * f.rank + k];
                }
            }
            for (int k = 0; k < f.rank; k++) {
                scales[k0 + k] = f.scale;
            }
            k0 += f.rank;
        }
        this.a = new StoredMatrix(name + ".lora_A", total, cols, DType.F32, seg);
    }

    /** The matrix without adapters. */
    public Matrix base() {
        return base;
    }

    /** Sum of the adapters' ranks. */
    public int rank() {
        return rank;
    }

    @Override
    public String type() {
        return base.type();
    }

    /** The base's bytes; the adapters' are counted by {@link #loraBytes()}. */
    @Override
    public long byteSize() {
        return base.byteSize();
    }

    public long loraBytes() {
        return a.byteSize() + 4L * bt.length;
    }

    /**
     * Low-rank features {@code h[t][k] = s_k · (A_k · x_t)} of {@code n} tokens for each adapted
     * matrix of {@code ms} (null for the others): every {@code A} in one parallel region, or on
     * the calling thread when that is less work than waking the pool costs (decoding one token).
     */
    static float[][] features(ComputePool pool, float[] x, int xs, int n, Matrix[] ms) {
        float[][] h = new float[ms.length][];
        java.util.List<Matrix> as = new java.util.ArrayList<>();
        java.util.List<float[]> outs = new java.util.ArrayList<>();
        long work = 0;
        for (int i = 0; i < ms.length; i++) {
            if (ms[i] instanceof LoraMatrix lm) {
                h[i] = new float[n * lm.rank];
                as.add(lm.a);
                outs.add(h[i]);
                work += (long) lm.rank * lm.cols * n;
            }
        }
        int[] os = as.stream().mapToInt(Matrix::rows).toArray();
        if (pool == null || work < SERIAL_WORK) {
            for (int i = 0; i < os.length; i++) {
                as.get(i).multiply(x, xs, n, outs.get(i), os[i], 0, os[i]);
            }
        } else {
            Matrix.multiplyAll(pool, x, xs, n, as.toArray(Matrix[]::new), outs.toArray(float[][]::new), os);
        }
        for (int i = 0; i < ms.length; i++) {
            if (h[i] != null) {
                ((LoraMatrix) ms[i]).scale(h[i], n);
            }
        }
        return h;
    }

    private float[] features(float[] x, int xs, int n) {
        float[] h = new float[n * rank];
        a.multiply(x, xs, n, h, rank, 0, rank);
        scale(h, n);
        return h;
    }

    private void scale(float[] h, int n) {
        for (int t = 0; t < n; t++) {
            for (int k = 0; k < rank; k++) {
                h[t * rank + k] *= scales[k];
            }
        }
    }

    /** The base product of rows {@code [r0, r1)} plus {@code B·h} with features already computed. */
    void multiply(float[] x, int xs, int n, float[] out, int os, int r0, int r1, float[] h) {
        base.multiply(x, xs, n, out, os, r0, r1);
        for (int t = 0; t < n; t++) {
            for (int k = 0; k < rank; k++) {
                float f = h[t * rank + k];
                if (f != 0) {
                    Ops.axpy(f, bt, k * rows + r0, out, t * os + r0, r1 - r0);
                }
            }
        }
    }

    @Override
    public void multiply(float[] x, int xs, int n, float[] out, int os, int r0, int r1) {
        multiply(x, xs, n, out, os, r0, r1, features(x, xs, n));
    }

    /** One row with the adapters (computes {@code A·x} for this call alone; products use the batched path). */
    @Override
    public float dot(int r, float[] x, int xo) {
        float sum = 0;
        for (int k = 0; k < rank; k++) {
            sum += bt[k * rows + r] * (a.dot(k, x, xo) * scales[k]);
        }
        return base.dot(r, x, xo) + sum;
    }

    /** The merged row {@code W[r] + Σ_k s_k·B[r][k]·A[k]}. */
    @Override
    public void row(int r, float[] dst, int off) {
        base.row(r, dst, off);
        float[] ak = new float[cols];
        for (int k = 0; k < rank; k++) {
            float f = bt[k * rows + r] * scales[k];
            if (f != 0) {
                a.row(k, ak, 0);
                Ops.axpy(f, ak, 0, dst, off, cols);
            }
        }
    }

    @Override
    public String toString() {
        return super.toString() + " + LoRA rank " + rank;
    }
}
