package io.loadstone.engine.tensor;

import io.loadstone.engine.kernel.MatVec;
import io.loadstone.engine.safetensors.DType;
import io.loadstone.engine.safetensors.TensorInfo;
import java.lang.foreign.MemorySegment;

/** A matrix read in place from the mapped checkpoint, in its stored type (F32, F16 or BF16). */
public final class StoredMatrix extends Matrix {

    private final DType dtype;
    private final MemorySegment data;
    private final long rowBytes;

    public StoredMatrix(TensorInfo t) {
        super(t.name(), Math.toIntExact(t.dim(0)), Math.toIntExact(t.dim(1)));
        if (t.rank() != 2 || !supports(t.dtype())) {
            throw new IllegalArgumentException(t + " is not a 2-D F32/F16/BF16 tensor");
        }
        this.dtype = t.dtype();
        this.data = t.data();
        this.rowBytes = (long) cols * dtype.size();
    }

    /** A matrix in {@code data}, little-endian rows of {@code cols} values (e.g. a converted copy). */
    public StoredMatrix(String name, int rows, int cols, DType dtype, MemorySegment data) {
        super(name, rows, cols);
        if (!supports(dtype) || data.byteSize() != (long) rows * cols * dtype.size()) {
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes are not " + rows + " x " + cols + " " + dtype);
        }
        this.dtype = dtype;
        this.data = data;
        this.rowBytes = (long) cols * dtype.size();
    }

    public static boolean supports(DType d) {
        return d == DType.F32 || d == DType.F16 || d == DType.BF16;
    }

    public DType dtype() {
        return dtype;
    }

    /**
     * Drops this matrix's pages from the process's resident memory (they stay in the file and
     * are read back if touched). Used once a quantized copy has replaced the matrix.
     */
    public void unloadPages() {
        if (data.isMapped()) {
            data.unload();
        }
    }

    /** Reads this matrix's pages into memory now rather than on first use (no-op unless mapped). */
    public void loadPages() {
        if (data.isMapped()) {
            data.load();
        }
    }

    @Override
    public String type() {
        return dtype.name();
    }

    @Override
    public long byteSize() {
        return data.byteSize();
    }

    @Override
    public float dot(int r, float[] x, int xo) {
        return switch (dtype) {
            case F32 -> MatVec.dotF32(data, r * rowBytes, cols, x, xo);
            case F16 -> MatVec.dotF16(data, r * rowBytes, cols, x, xo);
            default -> MatVec.dotBF16(data, r * rowBytes, cols, x, xo);
        };
    }

    @Override
    public void row(int r, float[] dst, int off) {
        switch (dtype) {
            case F32 -> MatVec.widenF32(data, r * rowBytes, cols, dst, off);
            case F16 -> MatVec.widenF16(data, r * rowBytes, cols, dst, off);
            default -> MatVec.widenBF16(data, r * rowBytes, cols, dst, off);
        }
    }
}
