package io.loadstone.sampling;

/**
 * Keeps the {@code k} highest scores (transformers' {@code TopKLogitsWarper}). Like
 * transformers it compares against the k-th largest value, so tokens tied with it all stay.
 * The k-th value comes from a size-k heap in one pass: no sort of the vocabulary.
 */
public final class TopK implements LogitsProcessor {

    private final int k;
    private float[] heap = new float[0];

    public TopK(int k, int minTokensToKeep) {
        if (k <= 0) {
            throw new IllegalArgumentException("top_k must be > 0 (got " + k + "); 0 turns it off");
        }
        this.k = Math.max(k, minTokensToKeep);
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        int kk = Math.min(k, scores.length);
        if (kk >= scores.length) {
            return;
        }
        if (heap.length < kk) {
            heap = new float[kk];
        }
        float threshold = Distributions.kthLargest(scores, kk, heap);
        for (int i = 0; i < scores.length; i++) {
            if (scores[i] < threshold) {
                scores[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    @Override
    public String name() {
        return "top_k";
    }
}
