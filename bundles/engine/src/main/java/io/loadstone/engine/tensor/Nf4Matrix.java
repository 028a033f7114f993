package io.loadstone.engine.tensor;

import io.loadstone.engine.kernel.QuantVec;
import java.lang.foreign.MemorySegment;

/** NF4 weights: {@code W[r][c] ≈ code[q] · absmax(block)}, blocks of 64 along each row. */
public final class Nf4Matrix extends Matrix {

    private final MemorySegment packed;
    private final float[] absmax;
    private final int blocks;

    Nf4Matrix(String name, int rows, int cols, MemorySegment packed, float[] absmax) {
        super(name, rows, cols);
        this.packed = packed;
        this.absmax = absmax;
        this.blocks = (cols + QuantVec.NF4_BLOCK - 1) / QuantVec.NF4_BLOCK;
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
    public float dot(int r, float[] x, int xo) {
        return QuantVec.nf4Dot(packed, r * QuantVec.nf4RowBytes(cols), absmax, r * blocks, cols, x, xo);
    }

    @Override
    public void row(int r, float[] dst, int off) {
        QuantVec.nf4Row(packed, absmax, cols, r, dst, off);
    }
}
