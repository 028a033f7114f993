package io.loadstone.engine.tensor;

import io.loadstone.engine.LinearWeights;

/**
 * Linear weights that compute a whole row range at once, for storage where one output row is not
 * contiguous (EXL2 packs along the input dimension, so its natural vector lanes are output rows).
 * {@link ExternalMatrix} calls this instead of building the product from {@link #dot}/{@link #row}.
 * Engine-internal: formats outside the engine implement {@link LinearWeights} only.
 */
public interface BatchedLinear extends LinearWeights {

    /**
     * {@code out[t*os + r] = Σ_c W[r][c] · x[t*xs + c]} for rows {@code [r0, r1)} and tokens
     * {@code [0, n)}, on the calling thread (called from several threads for disjoint ranges).
     */
    void multiply(float[] x, int xs, int n, float[] out, int os, int r0, int r1);
}
