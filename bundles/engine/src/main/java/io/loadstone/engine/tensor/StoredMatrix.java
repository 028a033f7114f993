package io.loadstone.engine.tensor;

import io.loadstone.engine.kernel.MatVec;
import io.loadstone.engine.safetensors.DType;
import io.loadstone.engine.safetensors.TensorInfo;
import java.lang.foreign.MemorySegment;

/** A matrix read in place from the mapped checkpoint, in its stored type (F32, F16 or BF16). */
public final class StoredMatrix extends Matrix {

    private final DType dtype;
    private final MemorySegment data;

    public StoredMatrix(TensorInfo t) {
        super(t.name(), Math.toIntExact(t.dim(0)), Math.toIntExact(t.dim(1)));
        if (t.rank() != 2 || !supports(t.dtype())) {
            throw new IllegalArgumentException(t + " is not a 2-D F32/F16/BF16 tensor");
        }
        this.dtype = t.dtype();
        this.data = t.data();
    }

    public static boolean supports(DType d) {
        return d == DType.F32 || d == DType.F16 || d == DType.BF16;
    }

    public DType dtype() {
        return dtype;
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
    public void multiply(float[] x, int xs, int n, float[] out, int os, int r0, int r1) {
        switch (dtype) {
            case F32 -> MatVec.f32(data, cols, x, xs, n, out, os, r0, r1);
            case F16 -> MatVec.f16(data, cols, x, xs, n, out, os, r0, r1);
            case BF16 -> MatVec.bf16(data, cols, x, xs, n, out, os, r0, r1);
            default -> throw new IllegalStateException(dtype.name());
        }
    }

    @Override
    public void row(int r, float[] dst, int off) {
        MatVec.row(data, dtype.size(), dtype == DType.BF16, cols, r, dst, off);
    }
}
