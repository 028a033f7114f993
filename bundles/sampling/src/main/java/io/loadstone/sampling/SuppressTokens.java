package io.loadstone.sampling;

import java.util.Arrays;

/**
 * Bans fixed token ids (transformers' {@code SuppressTokensLogitsProcessor}): what
 * text-generation-webui uses for "ban the eos token" and "custom token bans".
 */
public final class SuppressTokens implements LogitsProcessor {

    private final int[] tokens;

    public SuppressTokens(int... tokens) {
        for (int t : tokens) {
            if (t < 0) {
                throw new IllegalArgumentException("cannot ban token id " + t + ": token ids are >= 0");
            }
        }
        this.tokens = Arrays.stream(tokens).distinct().toArray();
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        for (int t : tokens) {
            if (t < scores.length) {
                scores[t] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    @Override
    public String name() {
        return "suppress_tokens";
    }
}
