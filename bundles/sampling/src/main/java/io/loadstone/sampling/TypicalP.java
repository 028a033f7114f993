package io.loadstone.sampling;

/**
 * Locally typical sampling (transformers' {@code TypicalLogitsWarper}): ranks tokens by how
 * far their surprise {@code -log p} is from the entropy, then keeps the closest ones until
 * their mass reaches {@code typical_p}; the most likely token may go.
 */
public final class TypicalP implements LogitsProcessor {

    private final double mass;
    private final int minKeep;
    private final Ranking ranking = new Ranking();
    private float[] shifted = new float[0];

    public TypicalP(double mass, int minTokensToKeep) {
        if (!(mass > 0 && mass < 1)) {
            throw new IllegalArgumentException("typical_p must be > 0 and < 1 to filter (got " + mass
                    + "); 1 turns it off");
        }
        this.mass = mass;
        this.minKeep = Math.max(1, minTokensToKeep);
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        int n = scores.length;
        if (shifted.length < n) {
            shifted = new float[n];
        }
        double lse = Distributions.logSumExp(scores);
        double entropy = 0;
        for (int i = 0; i < n; i++) {
            if (scores[i] != Float.NEGATIVE_INFINITY) {
                double logp = scores[i] - lse;
                entropy -= logp * Math.exp(logp);
            }
        }
        for (int i = 0; i < n; i++) {
            if (scores[i] != Float.NEGATIVE_INFINITY) {
                shifted[i] = (float) Math.abs(-(scores[i] - lse) - entropy);
            }
        }
        ranking.rankAscendingBy(scores, shifted);
        int size = ranking.size;
        if (size == 0) {
            return;
        }
        // The cut-off is the first rank whose cumulative mass reaches typical_p; every token
        // further from the entropy than that one goes (ties with it stay).
        int last = 0;
        double cumulative = 0;
        for (int j = 0; j < size; j++) {
            cumulative += Math.exp(scores[ranking.order[j]] - lse);
            if (cumulative >= mass) {
                break;
            }
            last = j + 1;
        }
        last = Math.min(last, size - 1);
        float cutoff = shifted[ranking.order[last]];
        for (int j = minKeep; j < size; j++) {
            int t = ranking.order[j];
            if (shifted[t] > cutoff) {
                scores[t] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    @Override
    public String name() {
        return "typical_p";
    }
}
