package io.loadstone.sampling;

/**
 * Nucleus sampling (transformers' {@code TopPLogitsWarper}): walking from the least likely
 * token up, a token goes while the probability mass at or below it is {@code <= 1 - top_p};
 * the {@code minTokensToKeep} most likely always stay.
 */
public final class TopP implements LogitsProcessor {

    private final double topP;
    private final int minKeep;
    /** Score histogram: buckets of SPAN / BUCKETS nats below the maximum, the last one open-ended. */
    private static final int BUCKETS = 512;
    private static final double SPAN = 64;
    private final Ranking ranking = new Ranking();
    private final double[] bucketMass = new double[BUCKETS + 1];

    public TopP(double topP, int minTokensToKeep) {
        if (!(topP >= 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in [0, 1] (got " + topP + "); 1 turns it off");
        }
        this.topP = topP;
        this.minKeep = Math.max(1, minTokensToKeep);
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        // Token j (best first) goes when the mass at or below it is <= 1 - top_p, that is when
        // the mass strictly above it is >= top_p, so only the head of the ranking matters.
        // A histogram of scores finds how deep that head reaches in one pass; only tokens
        // down to one bucket past it are sorted, not the vocabulary.
        float max = Distributions.max(scores);
        if (max == Float.NEGATIVE_INFINITY) {
            return;
        }
        java.util.Arrays.fill(bucketMass, 0);
        double total = 0;
        int live = 0;
        for (float s : scores) {
            if (s != Float.NEGATIVE_INFINITY) {
                double d = max - (double) s;
                double w = Math.exp(-d);
                total += w;
                live++;
                bucketMass[d >= SPAN ? BUCKETS : (int) (d * (BUCKETS / SPAN))] += w;
            }
        }
        double target = topP * total;
        double cumulative = 0;
        int boundary = BUCKETS;
        for (int b = 0; b < BUCKETS; b++) {
            cumulative += bucketMass[b];
            if (cumulative >= target) {
                boundary = b;
                break;
            }
        }
        // One bucket of margin: the exact cut is decided on the sorted head below, where
        // the sums run in rank order; if rounding still leaves it outside, rank everything.
        if (boundary + 2 <= BUCKETS && keepHead(scores, max, target, live, max - (boundary + 2) * (SPAN / BUCKETS))) {
            return;
        }
        keepHead(scores, max, target, live, Double.NEGATIVE_INFINITY);
    }

    /** Ranks tokens scoring at least {@code floor} and cuts there; false when the cut lies deeper. */
    private boolean keepHead(float[] scores, float max, double target, int live, double floor) {
        ranking.rankAtLeast(scores, floor);
        boolean all = ranking.size == live;
        double above = 0;
        int keep = -1;
        for (int j = 0; j < ranking.size; j++) {
            if (above >= target) {
                keep = j;
                break;
            }
            above += Math.exp(scores[ranking.order[j]] - (double) max);
        }
        if (keep < 0) {
            return all; // with every token ranked, the mass above each stays below top_p: none goes
        }
        if (keep < minKeep && !all && ranking.size < minKeep) {
            return false;
        }
        keep = Math.min(Math.max(keep, minKeep), ranking.size);
        if (keep < live) {
            ranking.removeAfter(scores, keep);
        }
        return true;
    }

    @Override
    public String name() {
        return "top_p";
    }
}
