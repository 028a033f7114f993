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
    public float dot(int r, float[] x, int xo) {
        return QuantVec.int8Dot(q, (long) r * cols, cols, x, xo) * scales[r];
    }

    @Override
    public void row(int r, float[] dst, int off) {
        QuantVec.int8Row(q, scales[r], cols, r, dst, off);
    }
}
