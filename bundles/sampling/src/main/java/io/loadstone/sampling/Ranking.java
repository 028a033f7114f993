package io.loadstone.sampling;

import java.util.Arrays;

/**
 * Scratch space for the sort-based processors: the live (not {@code -inf}) tokens ordered
 * best first, and their softmax probabilities.
 *
 * <p>Only live tokens are ranked because filtered ones have probability 0 and every
 * processor here only ever removes tokens: after a small top-k the next processor sorts
 * k entries, not the vocabulary. Keys pack a float's order-preserving bits with the token
 * id into one {@code long}, so a primitive sort orders by score and breaks ties by the
 * lower token id: deterministic where torch's unstable sort is not. Arrays grow once and
 * are reused across steps.
 */
final class Ranking {

    private long[] keys = new long[0];
    /** Token ids, best first; valid up to {@link #size}. */
    int[] order = new int[0];
    /** Softmax probability of {@code order[j]} over the live tokens. */
    double[] probs = new double[0];
    /** Number of live tokens ranked. */
    int size;

    private void ensure(int n) {
        if (keys.length < n) {
            keys = new long[n];
            order = new int[n];
            probs = new double[n];
        }
    }

    /** Ranks the live tokens of {@code scores}, highest score first, ties by lower id. */
    void rankDescending(float[] scores) {
        ensure(scores.length);
        int n = 0;
        for (int i = 0; i < scores.length; i++) {
            float s = scores[i];
            if (s != Float.NEGATIVE_INFINITY) {
                keys[n++] = ((long) ~sortable(s) << 32) | i;
            }
        }
        finish(n);
    }

    private float[] heap = new float[0];

    /**
     * Ranks at least the {@code m} best live tokens (all of those tied with the m-th too),
     * best first, by partial selection: a size-m heap pass, then a sort of only those.
     */
    void rankTop(float[] scores, int m, int live) {
        if (m >= live) {
            rankDescending(scores);
            return;
        }
        if (heap.length < m) {
            heap = new float[m];
        }
        // m < live, so the m-th largest is a live (finite) score.
        rankAtLeast(scores, Distributions.kthLargest(scores, m, heap));
    }

    /** Ranks the tokens scoring at least {@code threshold} (a head of the full ranking), best first. */
    void rankAtLeast(float[] scores, double threshold) {
        ensure(scores.length);
        int n = 0;
        for (int i = 0; i < scores.length; i++) {
            float s = scores[i];
            if (s >= threshold && s != Float.NEGATIVE_INFINITY) {
                keys[n++] = ((long) ~sortable(s) << 32) | i;
            }
        }
        finish(n);
    }

    /**
     * Removes every live token ranked after position {@code keep - 1} (by score, then id),
     * whether or not it was ranked: one pass over the vocabulary.
     */
    void removeAfter(float[] scores, int keep) {
        int last = order[keep - 1];
        float edge = scores[last];
        for (int i = 0; i < scores.length; i++) {
            float s = scores[i];
            if (s < edge || (s == edge && i > last)) {
                scores[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    /** Ranks the live tokens of {@code scores} by {@code key[i]} ascending, ties by lower id. */
    void rankAscendingBy(float[] scores, float[] key) {
        ensure(scores.length);
        int n = 0;
        for (int i = 0; i < scores.length; i++) {
            if (scores[i] != Float.NEGATIVE_INFINITY) {
                keys[n++] = ((long) sortable(key[i]) << 32) | i;
            }
        }
        finish(n);
    }

    private void finish(int n) {
        Arrays.sort(keys, 0, n);
        for (int j = 0; j < n; j++) {
            order[j] = (int) keys[j];
        }
        size = n;
    }

    /** Fills {@link #probs} with the softmax of the ranked tokens' scores (in rank order). */
    void softmax(float[] scores) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < size; j++) {
            max = Math.max(max, scores[order[j]]);
        }
        double sum = 0;
        for (int j = 0; j < size; j++) {
            double e = Math.exp(scores[order[j]] - max);
            probs[j] = e;
            sum += e;
        }
        for (int j = 0; j < size; j++) {
            probs[j] /= sum;
        }
    }

    /**
     * An int whose signed order is the float order ({@code -0.0 < 0.0}; NaN never reaches
     * here: sessions reject it).
     */
    static int sortable(float f) {
        int bits = Float.floatToRawIntBits(f);
        return bits ^ ((bits >> 31) & 0x7fffffff);
    }
}
