package io.loadstone.engine.tensor;

import io.loadstone.engine.LinearWeights;

/** Linear weights supplied by a loader's {@link io.loadstone.engine.LinearFormat}. */
public final class ExternalMatrix extends Matrix {

    private final LinearWeights weights;
    private final String type;

    public ExternalMatrix(String name, String type, LinearWeights weights) {
        super(name, weights.rows(), weights.cols());
        this.weights = weights;
        this.type = type;
    }

    @Override
    public String type() {
        return type;
    }

    @Override
    public long byteSize() {
        return weights.byteSize();
    }

    @Override
    public float dot(int r, float[] x, int xo) {
        return weights.dot(r, x, xo);
    }

    @Override
    public void row(int r, float[] dst, int off) {
        weights.row(r, dst, off);
    }
}
