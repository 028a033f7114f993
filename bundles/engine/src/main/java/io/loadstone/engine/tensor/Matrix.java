package io.loadstone.engine.tensor;

import io.loadstone.engine.kernel.ComputePool;

/**
 * A 2-D weight {@code W[rows][cols]} used as {@code y = W·x} (a Hugging Face Linear stores
 * {@code [out_features][in_features]}, so rows are outputs). Implementations differ in storage:
 * the mapped file in its stored type, or a quantized copy.
 */
public abstract class Matrix {

    /** Below this many multiply-adds a product runs on the calling thread (forking costs more). */
    private static final int MIN_PARALLEL_WORK = 1 << 15;

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

    /**
     * {@code out[t*os + r] = Σ_c W[r][c] · x[t*xs + c]} for rows {@code [r0, r1)} and tokens
     * {@code [0, n)}, on the calling thread.
     */
    public abstract void multiply(float[] x, int xs, int n, float[] out, int os, int r0, int r1);

    /** Row {@code r} as floats into {@code dst[off, off+cols)} (embedding lookup). */
    public abstract void row(int r, float[] dst, int off);

    /** All rows, split across the pool's threads by row ranges. */
    public final void multiply(ComputePool pool, float[] x, int xs, int n, float[] out, int os) {
        long work = (long) rows * cols * n;
        if (work < MIN_PARALLEL_WORK) {
            multiply(x, xs, n, out, os, 0, rows);
            return;
        }
        int minRows = (int) Math.max(1, MIN_PARALLEL_WORK / ((long) cols * n));
        pool.parallelFor(rows, minRows, (r0, r1) -> multiply(x, xs, n, out, os, r0, r1));
    }

    @Override
    public String toString() {
        return name + " " + type() + "[" + rows + ", " + cols + "]";
    }
}
