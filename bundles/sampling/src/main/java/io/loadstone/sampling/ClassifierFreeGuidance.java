package io.loadstone.sampling;

/**
 * Classifier-free guidance (transformers' {@code UnbatchedClassifierFreeGuidanceLogitsProcessor}):
 * both the conditional scores (the prompt) and the unconditional ones (the negative prompt,
 * computed by the caller with its own cache) become log-probabilities, then
 * {@code out = uncond + scale * (cond - uncond)}. The output is log-softmax valued, so the
 * processors after it see normalised scores, as in transformers.
 */
public final class ClassifierFreeGuidance {

    private ClassifierFreeGuidance() {
    }

    /**
     * Combines in place into {@code cond}. A token with {@code -inf} on either side stays
     * {@code -inf} (the formula would give NaN or an unbounded boost there).
     */
    public static void combine(float[] cond, float[] uncond, double scale) {
        if (cond.length != uncond.length) {
            throw new IllegalArgumentException("classifier-free guidance needs logits of one vocabulary: the "
                    + "prompt's have " + cond.length + " entries, the negative prompt's " + uncond.length);
        }
        double lc = Distributions.logSumExp(cond);
        double lu = Distributions.logSumExp(uncond);
        for (int i = 0; i < cond.length; i++) {
            float c = cond[i];
            float u = uncond[i];
            if (c == Float.NEGATIVE_INFINITY || u == Float.NEGATIVE_INFINITY) {
                cond[i] = Float.NEGATIVE_INFINITY;
            } else {
                double lpc = c - lc;
                double lpu = u - lu;
                cond[i] = (float) (lpu + scale * (lpc - lpu));
            }
        }
    }
}
