package io.loadstone.sampling;

/**
 * Epsilon sampling (transformers' {@code EpsilonLogitsWarper}): drops tokens whose
 * probability is below a fixed epsilon, except the {@code minTokensToKeep} highest scores
 * (all of those tied with the last of them too, as transformers compares scores).
 * The epsilon here is a probability; text-generation-webui's {@code epsilon_cutoff} is in
 * units of 1e-4 ({@link SamplerSettings} converts).
 */
public final class EpsilonCutoff implements LogitsProcessor {

    private final double epsilon;
    private final int minKeep;
    private float[] heap = new float[0];

    public EpsilonCutoff(double epsilon, int minTokensToKeep) {
        if (!(epsilon > 0 && epsilon < 1)) {
            throw new IllegalArgumentException("epsilon must be a probability > 0 and < 1 (got " + epsilon + ")");
        }
        this.epsilon = epsilon;
        this.minKeep = Math.max(1, minTokensToKeep);
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        cut(scores, Distributions.logSumExp(scores), epsilon);
    }

    /** Removes tokens with probability below {@code cutoff} unless their score is among the top minKeep. */
    void cut(float[] scores, double logSumExp, double cutoff) {
        int k = Math.min(minKeep, scores.length);
        if (heap.length < k) {
            heap = new float[k];
        }
        float protect = k == 1 ? Distributions.max(scores) : Distributions.kthLargest(scores, k, heap);
        double cut = Math.log(cutoff) + logSumExp; // p_i < c  <=>  s_i < log c + lse
        for (int i = 0; i < scores.length; i++) {
            float s = scores[i];
            if (s < cut && s < protect) {
                scores[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    @Override
    public String name() {
        return "epsilon_cutoff";
    }
}
