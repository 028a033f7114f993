package io.loadstone.sampling;

/**
 * Tail-free sampling (text-generation-webui's {@code TailFreeLogitsWarper}): sorts the
 * probabilities, takes the absolute second difference, normalises it to a CDF and cuts where
 * that CDF passes {@code tfs}. As in the reference, the first token always stays and the
 * last position of the sorted vocabulary always goes (a real token only when no token was
 * filtered before); a flat curve (zero second difference) removes nothing else.
 */
public final class TailFree implements LogitsProcessor {

    private final double z;
    private final int minKeep;
    private final Ranking ranking = new Ranking();
    private double[] p = new double[0];

    public TailFree(double tfs, int minTokensToKeep) {
        if (!(tfs >= 0 && tfs <= 1)) {
            throw new IllegalArgumentException("tfs must be in [0, 1] (got " + tfs + "); 1 turns it off");
        }
        this.z = tfs;
        this.minKeep = Math.max(1, minTokensToKeep);
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        ranking.rankDescending(scores);
        ranking.softmax(scores);
        int live = ranking.size;
        int dead = scores.length - live;
        // Filtered tokens sort last with probability 0; past the first two of them every second
        // difference is 0, so two zero entries reproduce the whole-vocabulary computation.
        int m = live + Math.min(dead, 2);
        if (p.length < m) {
            p = new double[Math.max(m, scores.length)];
        }
        System.arraycopy(ranking.probs, 0, p, 0, live);
        for (int j = live; j < m; j++) {
            p[j] = 0;
        }
        double sum = 0;
        for (int i = 0; i + 2 < m; i++) {
            sum += Math.abs(p[i + 2] - 2 * p[i + 1] + p[i]);
        }
        if (sum > 0) {
            double cdf = 0;
            // Position j (1..m-2) goes when the CDF of the second differences up to j-1 exceeds z.
            for (int j = 1; j < m - 1 && j < live; j++) {
                cdf += Math.abs(p[j + 1] - 2 * p[j] + p[j - 1]) / sum;
                if (cdf > z && j >= minKeep) {
                    scores[ranking.order[j]] = Float.NEGATIVE_INFINITY;
                }
            }
        }
        if (dead == 0 && live >= 2 && live - 1 >= minKeep) {
            scores[ranking.order[live - 1]] = Float.NEGATIVE_INFINITY;
        }
    }

    @Override
    public String name() {
        return "tfs";
    }
}
