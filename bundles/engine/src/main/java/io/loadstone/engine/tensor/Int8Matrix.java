package io.loadstone.engine.tensor;

import io.loadstone.engine.kernel.QuantVec;
import java.lang.foreign.MemorySegment;

/** int8 weights, {@code W[r][c] ≈ q[r][c] · scale[r]} with {@code scale = absmax(row) / 127}. */
public final class Int8Matrix extends Matrix {

    private final MemorySegment q;
    private final float[] scales;

    Int8Matrix(String name, int rows, int cols, MemorySegment q, float[] scales) {
        super(name, rows, cols);
        this.q = q;
        this.scales = scales;
    }

    @Override
    public String type() {
        return "INT8";
    }

    @Override
    public long byteSize() {
        return q.byteSize() + 4L * scales.length;
    }

    @Override
    public void multiply(float[] x, int xs, int n, float[] out, int os, int r0, int r1) {
        QuantVec.int8(q, scales, cols, x, xs, n, out, os, r0, r1);
    }

    @Override
    public void row(int r, float[] dst, int off) {
        float[] tmp = new float[cols];
        QuantVec.int8Row(q, scales[r], cols, r, tmp);
        System.arraycopy(tmp, 0, dst, off, cols);
    }
}
