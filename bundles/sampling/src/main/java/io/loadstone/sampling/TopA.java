package io.loadstone.sampling;

/**
 * Top-a (text-generation-webui's {@code TopALogitsWarper}): drops tokens whose probability
 * is below {@code top_a × p_max²}, so a confident distribution is cut harder.
 */
public final class TopA implements LogitsProcessor {

    private final double topA;
    private final int minKeep;
    private final Ranking ranking = new Ranking();
    private double[] probs = new double[0];

    public TopA(double topA, int minTokensToKeep) {
        if (!(topA >= 0 && topA <= 1)) {
            throw new IllegalArgumentException("top_a must be in [0, 1] (got " + topA + "); 0 turns it off");
        }
        this.topA = topA;
        this.minKeep = Math.max(1, minTokensToKeep);
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        if (probs.length < scores.length) {
            probs = new double[scores.length];
        }
        Distributions.softmax(scores, probs);
        double top = 0;
        for (int i = 0; i < scores.length; i++) {
            top = Math.max(top, probs[i]);
        }
        ThresholdFilter.removeBelow(scores, probs, topA * top * top, minKeep, ranking);
    }

    @Override
    public String name() {
        return "top_a";
    }
}
