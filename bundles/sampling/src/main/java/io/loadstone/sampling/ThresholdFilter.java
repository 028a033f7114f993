package io.loadstone.sampling;

/**
 * Shared by min-p, top-a, epsilon and eta: remove tokens below a probability, keeping the
 * best {@code minKeep}. The probability test runs in log space
 * ({@code p_i < c  <=>  s_i < log c + logsumexp(s)}), so it costs no exponentials.
 */
final class ThresholdFilter {

    private ThresholdFilter() {
    }

    /** Removes tokens whose score is below {@code cut}, except the {@code minKeep} best by rank. */
    static void removeBelow(float[] scores, double cut, int minKeep, Ranking ranking) {
        if (minKeep <= 1) {
            // Callers never cut above the top score, so the best token always survives
            // without ranking anything: one pass over the vocabulary.
            for (int i = 0; i < scores.length; i++) {
                if (scores[i] < cut) {
                    scores[i] = Float.NEGATIVE_INFINITY;
                }
            }
            return;
        }
        ranking.rankDescending(scores);
        for (int j = minKeep; j < ranking.size; j++) {
            int t = ranking.order[j];
            if (scores[t] < cut) {
                scores[t] = Float.NEGATIVE_INFINITY;
            }
        }
    }
}
