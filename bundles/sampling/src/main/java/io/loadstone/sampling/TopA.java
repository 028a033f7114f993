package io.loadstone.sampling;

/**
 * Top-a (text-generation-webui's {@code TopALogitsWarper}): drops tokens whose probability
 * is below {@code top_a × p_max²}, so a confident distribution is cut harder.
 */
public final class TopA implements LogitsProcessor {

    private final double topA;
    private final int minKeep;
    private final Ranking ranking = new Ranking();

    public TopA(double topA, int minTokensToKeep) {
        if (!(topA >= 0 && topA <= 1)) {
            throw new IllegalArgumentException("top_a must be in [0, 1] (got " + topA + "); 0 turns it off");
        }
        this.topA = topA;
        this.minKeep = Math.max(1, minTokensToKeep);
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        // p_i < a * p_max^2  <=>  s_i - lse < log a + 2 (s_max - lse)  <=>  s_i < log a + 2 s_max - lse.
        double lse = Distributions.logSumExp(scores);
        double cut = Math.log(topA) + 2.0 * Distributions.max(scores) - lse;
        ThresholdFilter.removeBelow(scores, cut, minKeep, ranking);
    }

    @Override
    public String name() {
        return "top_a";
    }
}
