package io.loadstone.engine.llama;

import io.loadstone.engine.WeightPlacement;
import io.loadstone.engine.WeightQuantization;
import io.loadstone.engine.kernel.ComputePool;
import io.loadstone.engine.tensor.Matrix;
import io.loadstone.engine.tensor.Quantizer;
import io.loadstone.engine.tensor.StoredMatrix;
import java.lang.foreign.Arena;
import java.util.function.UnaryOperator;

/**
 * Places each linear matrix as it is bound, in layer order, against the memory budget: within
 * it a matrix is quantized (load_in_8bit / load_in_4bit) or, unquantized, read into memory up
 * front; beyond it the matrix stays memory-mapped in its stored type, so a model larger than the
 * budget still runs, reading its last layers from disk, instead of failing or swapping.
 * Not thread-safe: used once, while a model is opened.
 */
final class Placement implements UnaryOperator<Matrix> {

    private final long budget;
    private final WeightQuantization quantization;
    private final boolean bf16;
    private final Arena arena;
    private final ComputePool pool;
    private long resident;
    private int placed;
    private int mapped;
    private String firstMapped = "";

    Placement(long budget, WeightQuantization quantization, boolean bf16, Arena arena, ComputePool pool) {
        this.budget = budget;
        this.quantization = quantization;
        this.bf16 = bf16;
        this.arena = arena;
        this.pool = pool;
    }

    @Override
    public Matrix apply(Matrix m) {
        long need = bytesWhenPlaced(m);
        if (budget > 0 && resident + need > budget) {
            if (mapped++ == 0) {
                firstMapped = m.name();
            }
            return m;
        }
        resident += need;
        placed++;
        return switch (quantization) {
            case NONE -> {
                if (bf16 && !isBf16(m)) {
                    yield released(m, Quantizer.bf16(m, arena, pool));
                }
                if (budget > 0 && m instanceof StoredMatrix s) {
                    s.loadPages();
                }
                yield m;
            }
            case INT8 -> released(m, Quantizer.int8(m, arena, pool));
            case NF4 -> released(m, Quantizer.nf4(m, arena, pool));
        };
    }

    /** Memory the matrix takes once placed: its quantized copy, or its stored bytes. */
    private long bytesWhenPlaced(Matrix m) {
        long rows = m.rows();
        long cols = m.cols();
        return switch (quantization) {
            case NONE -> bf16 ? rows * cols * 2 : m.byteSize();
            case INT8 -> rows * cols + rows * Float.BYTES;
            case NF4 -> rows * ((cols + 1) / 2) + rows * ((cols + 63) / 64) * Float.BYTES;
        };
    }

    private static boolean isBf16(Matrix m) {
        return m instanceof StoredMatrix s && s.dtype() == io.loadstone.engine.safetensors.DType.BF16;
    }

    /** The stored original is no longer read once quantized; keep it out of resident memory. */
    private static Matrix released(Matrix original, Matrix quantized) {
        if (original instanceof StoredMatrix s) {
            s.unloadPages();
        }
        return quantized;
    }

    WeightPlacement result() {
        return new WeightPlacement(budget, resident, placed, mapped, firstMapped);
    }
}
