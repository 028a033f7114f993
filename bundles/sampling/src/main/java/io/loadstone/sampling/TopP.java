package io.loadstone.sampling;

/**
 * Nucleus sampling (transformers' {@code TopPLogitsWarper}): walking from the least likely
 * token up, a token goes while the probability mass at or below it is {@code <= 1 - top_p};
 * the {@code minTokensToKeep} most likely always stay.
 */
public final class TopP implements LogitsProcessor {

    private final double topP;
    private final int minKeep;
    private final Ranking ranking = new Ranking();

    public TopP(double topP, int minTokensToKeep) {
        if (!(topP >= 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in [0, 1] (got " + topP + "); 1 turns it off");
        }
        this.topP = topP;
        this.minKeep = Math.max(1, minTokensToKeep);
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        ranking.rankDescending(scores);
        ranking.softmax(scores);
        double limit = 1 - topP;
        double cumulative = 0;
        for (int j = ranking.size - 1; j >= minKeep; j--) {
            cumulative += ranking.probs[j];
            if (cumulative > limit) {
                break; // cumulative mass only grows from here
            }
            scores[ranking.order[j]] = Float.NEGATIVE_INFINITY;
        }
    }

    @Override
    public String name() {
        return "top_p";
    }
}
