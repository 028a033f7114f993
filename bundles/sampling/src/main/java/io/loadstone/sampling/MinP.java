package io.loadstone.sampling;

/**
 * Min-p (text-generation-webui's {@code MinPLogitsWarper}, later adopted by transformers):
 * drops tokens whose probability is below {@code min_p} times the top token's.
 */
public final class MinP implements LogitsProcessor {

    private final double minP;
    private final int minKeep;
    private final Ranking ranking = new Ranking();

    public MinP(double minP, int minTokensToKeep) {
        if (!(minP >= 0 && minP <= 1)) {
            throw new IllegalArgumentException("min_p must be in [0, 1] (got " + minP + "); 0 turns it off");
        }
        this.minP = minP;
        this.minKeep = Math.max(1, minTokensToKeep);
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        // p_i < min_p * p_max  <=>  s_i < s_max + log(min_p): the normaliser cancels.
        ThresholdFilter.removeBelow(scores, Distributions.max(scores) + Math.log(minP), minKeep, ranking);
    }

    @Override
    public String name() {
        return "min_p";
    }
}
