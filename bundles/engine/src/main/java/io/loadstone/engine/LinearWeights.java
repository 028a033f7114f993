package io.loadstone.engine;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * The weights of one linear layer {@code y = W·x}, {@code W[rows][cols]} with rows = output
 * features and cols = input features, in whatever storage a {@link LinearFormat} chose (packed
 * 4-bit groups, a dequantized copy, …).
 *
 * <p>The engine builds every product from these two primitives: {@link #dot} for one token
 * (generation), {@link #row} for batches (the row is widened once and multiplied with many
 * tokens). Both are called from several compute threads at once, for different rows.
 */
@ConsumerType
public interface LinearWeights {

    int rows();

    int cols();

    /** {@code Σ_c W[r][c] · x[xo + c]}. */
    float dot(int r, float[] x, int xo);

    /** Row {@code r} as floats into {@code dst[off, off + cols)}. */
    void row(int r, float[] dst, int off);

    /** Memory the weights occupy (for reports). */
    long byteSize();
}
