package io.loadstone.sampling;

/**
 * Epsilon sampling (transformers' {@code EpsilonLogitsWarper}): drops tokens whose
 * probability is below a fixed epsilon, except the {@code minTokensToKeep} highest scores.
 * The epsilon here is a probability; text-generation-webui's {@code epsilon_cutoff} is in
 * units of 1e-4 ({@link SamplerSettings} converts).
 */
public final class EpsilonCutoff implements LogitsProcessor {

    private final double epsilon;
    private final int minKeep;
    private double[] probs = new double[0];
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
        if (probs.length < scores.length) {
            probs = new double[scores.length];
        }
        Distributions.softmax(scores, probs);
        cut(scores, probs, epsilon);
    }

    /** Removes tokens with probability below {@code cutoff} unless their score is among the top minKeep. */
    void cut(float[] scores, double[] probs, double cutoff) {
        int k = Math.min(minKeep, scores.length);
        if (heap.length < k) {
            heap = new float[k];
        }
        float protect = k == 1 ? Distributions.max(scores) : Distributions.kthLargest(scores, k, heap);
        for (int i = 0; i < scores.length; i++) {
            if (probs[i] < cutoff && scores[i] < protect) {
                scores[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    double[] probs(float[] scores) {
        if (probs.length < scores.length) {
            probs = new double[scores.length];
        }
        Distributions.softmax(scores, probs);
        return probs;
    }

    @Override
    public String name() {
        return "epsilon_cutoff";
    }
}
