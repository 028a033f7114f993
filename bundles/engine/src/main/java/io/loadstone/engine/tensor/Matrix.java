package io.loadstone.engine.tensor;

import io.loadstone.engine.kernel.ComputePool;
import io.loadstone.engine.kernel.MatVec;
import io.loadstone.engine.kernel.Ops;
import io.loadstone.engine.kernel.Vectors;

/**
 * A 2-D weight {@code W[rows][cols]} used as {@code y = W·x} (a Hugging Face Linear stores
 * {@code [out_features][in_features]}, so rows are outputs). Subclasses differ in storage (the
 * mapped file in its stored type, or a quantized copy) and supply two primitives: a fused
 * one-row dot product and the widening of a row to floats. The batched product is built here
 * from those, the same for every storage.
 */
public abstract class Matrix {

    /** Below this many multiply-adds a product runs on the calling thread (forking costs more). */
    private static final int MIN_PARALLEL_WORK = 1 << 15;
    /** Rows widened together for the batch micro-kernel. */
    private static final int TILE = 4;

    protected final String name;
    protected final int rows;
    protected final int cols;

    protected Matrix(String name, int rows, int cols) {
        this.name = name;
        this.rows = rows;
        this.cols = cols;
    }

    public String name() {
        return name;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    /** Storage type in words (F32, F16, BF16, INT8, NF4). */
    public abstract String type();

    /** Bytes this matrix occupies (mapped or allocated). */
    public abstract long byteSize();

    /** {@code Σ_c W[r][c] · x[xo + c]}. */
    public abstract float dot(int r, float[] x, int xo);

    /** Row {@code r} as floats into {@code dst[off, off+cols)}. */
    public abstract void row(int r, float[] dst, int off);

    /**
     * {@code out[t*os + r] = Σ_c W[r][c] · x[t*xs + c]} for rows {@code [r0, r1)} and tokens
     * {@code [0, n)}, on the calling thread.
     */
    public void multiply(float[] x, int xs, int n, float[] out, int os, int r0, int r1) {
        if (n < TILE) {
            for (int r = r0; r < r1; r++) {
                for (int t = 0; t < n; t++) {
                    out[t * os + r] = dot(r, x, t * xs);
                }
            }
            return;
        }
        float[] tile = new float[TILE * cols];
        float[] acc = new float[16 * Vectors.LANES];
        int r = r0;
        for (; r + TILE <= r1; r += TILE) {
            for (int i = 0; i < TILE; i++) {
                row(r + i, tile, i * cols);
            }
            int t = 0;
            for (; t + 4 <= n; t += 4) {
                MatVec.tile4x4(tile, 0, cols, x, t * xs, xs, out, t * os + r, os, acc);
            }
            for (; t < n; t++) {
                for (int i = 0; i < TILE; i++) {
                    out[t * os + r + i] = Ops.dot(tile, i * cols, x, t * xs, cols);
                }
            }
        }
        for (; r < r1; r++) {
            row(r, tile, 0);
            for (int t = 0; t < n; t++) {
                out[t * os + r] = Ops.dot(tile, 0, x, t * xs, cols);
            }
        }
    }

    /** All rows, split across the pool's threads by row ranges. */
    public final void multiply(ComputePool pool, float[] x, int xs, int n, float[] out, int os) {
        multiplyAll(pool, x, xs, n, new Matrix[] {this}, new float[][] {out}, new int[] {os});
    }

    /**
     * Several products of the same input ({@code q, k, v} or {@code gate, up}) in one parallel
     * region: one fork/join instead of one per matrix, and small matrices (k, v under GQA) share
     * the threads with the large one instead of waking them for a sliver of work each.
     */
    public static void multiplyAll(ComputePool pool, float[] x, int xs, int n, Matrix[] ms, float[][] outs, int[] os) {
        int total = 0;
        long work = 0;
        // LoRA: each adapted matrix's low-rank features A·x, once per call for all its tokens,
        // before the rows are split among threads (per range they would be computed again).
        boolean lora = false;
        for (Matrix m : ms) {
            total += m.rows;
            work += (long) m.rows * m.cols * n;
            lora |= m instanceof LoraMatrix;
        }
        float[][] h = lora ? LoraMatrix.features(pool, x, xs, n, ms) : null;
        if (work < MIN_PARALLEL_WORK) {
            for (int i = 0; i < ms.length; i++) {
                multiplyRange(ms[i], h == null ? null : h[i], x, xs, n, outs[i], os[i], 0, ms[i].rows);
            }
            return;
        }
        long perRow = work / total;
        int minRows = (int) Math.max(TILE, MIN_PARALLEL_WORK / Math.max(1, perRow) / TILE * TILE);
        // Ranges start at multiples of TILE, so with row counts that are multiples of 4 every
        // range is made of whole tiles.
        pool.parallelFor(total, minRows, TILE, (from, to) -> {
            int base = 0;
            for (int i = 0; i < ms.length && base < to; i++) {
                Matrix m = ms[i];
                int lo = Math.max(from, base) - base;
                int hi = Math.min(to, base + m.rows) - base;
                if (lo < hi) {
                    multiplyRange(m, h == null ? null : h[i], x, xs, n, outs[i], os[i], lo, hi);
                }
                base += m.rows;
            }
        });
    }

    private static void multiplyRange(Matrix m, float[] features, float[] x, int xs, int n, float[] out, int os, int r0, int r1) {
        if (features != null) {
            ((LoraMatrix) m).multiply(x, xs, n, out, os, r0, r1, features);
        } else {
            m.multiply(x, xs, n, out, os, r0, r1);
        }
    }

    @Override
    public String toString() {
        return name + " " + type() + "[" + rows + ", " + cols + "]";
    }
}
