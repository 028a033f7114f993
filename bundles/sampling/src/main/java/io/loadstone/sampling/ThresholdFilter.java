package io.loadstone.sampling;

/** Shared by min-p and top-a: remove tokens below a probability, keeping the best {@code minKeep}. */
final class ThresholdFilter {

    private ThresholdFilter() {
    }

    static void removeBelow(float[] scores, double[] probs, double threshold, int minKeep, Ranking ranking) {
        if (minKeep <= 1) {
            // The top token is never below the threshold (both callers scale p_max by a factor <= 1),
            // so no ranking is needed: one pass over the vocabulary.
            for (int i = 0; i < scores.length; i++) {
                if (probs[i] < threshold) {
                    scores[i] = Float.NEGATIVE_INFINITY;
                }
            }
            return;
        }
        ranking.rankDescending(scores);
        for (int j = minKeep; j < ranking.size; j++) {
            int t = ranking.order[j];
            if (probs[t] < threshold) {
                scores[t] = Float.NEGATIVE_INFINITY;
            }
        }
    }
}
