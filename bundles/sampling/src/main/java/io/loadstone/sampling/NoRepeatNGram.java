package io.loadstone.sampling;

/**
 * Bans every token that would complete an n-gram already present in the history
 * (transformers' {@code NoRepeatNGramLogitsProcessor}; the prompt counts).
 */
public final class NoRepeatNGram implements LogitsProcessor {

    private final int n;

    public NoRepeatNGram(int n) {
        if (n <= 0) {
            throw new IllegalArgumentException("no_repeat_ngram_size must be > 0 (got " + n + "); 0 turns it off");
        }
        this.n = n;
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        int len = history.size();
        if (len + 1 < n) {
            return;
        }
        int[] tokens = history.raw();
        int prefixStart = len - (n - 1);
        // Windows [i, i+n) lying wholly in the history whose first n-1 tokens equal the
        // current suffix ban their last token.
        for (int i = 0; i + n <= len; i++) {
            boolean match = true;
            for (int j = 0; j < n - 1; j++) {
                if (tokens[i + j] != tokens[prefixStart + j]) {
                    match = false;
                    break;
                }
            }
            if (match) {
                int banned = tokens[i + n - 1];
                if (banned >= 0 && banned < scores.length) {
                    scores[banned] = Float.NEGATIVE_INFINITY;
                }
            }
        }
    }

    @Override
    public String name() {
        return "no_repeat_ngram_size";
    }
}
