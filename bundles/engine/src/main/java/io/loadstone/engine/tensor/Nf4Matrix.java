package io.loadstone.engine.tensor;

import io.loadstone.engine.kernel.QuantVec;
import java.lang.foreign.MemorySegment;

/** NF4 weights: {@code W[r][c] ≈ code[q] · absmax(block)}, blocks of 64 along each row. */
public final class Nf4Matrix extends Matrix {

    private final MemorySegment packed;
    private final float[] absmax;

    Nf4Matrix(String name, int rows, int cols, MemorySegment packed, float[] absmax) {
        super(name, rows, cols);
        this.packed = packed;
        this.absmax = absmax;
    }

    @Override
    public String type() {
        return "NF4";
    }

    @Override
    public long byteSize() {
        return packed.byteSize() + 4L * absmax.length;
    }

    @Override
    public void multiply(float[] x, int xs, int n, float[] out, int os, int r0, int r1) {
        QuantVec.nf4(packed, absmax, cols, x, xs, n, out, os, r0, r1);
    }

    @Override
    public void row(int r, float[] dst, int off) {
        float[] tmp = new float[cols];
        QuantVec.nf4Row(packed, absmax, cols, r, tmp);
        System.arraycopy(tmp, 0, dst, off, cols);
    }
}
