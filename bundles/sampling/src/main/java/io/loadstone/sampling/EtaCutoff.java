package io.loadstone.sampling;

/**
 * Eta sampling (transformers' {@code EtaLogitsWarper}): like epsilon sampling with a cutoff
 * that falls as the entropy H rises: {@code eta = min(epsilon, sqrt(epsilon) * exp(-H))}.
 * The epsilon here is a probability; text-generation-webui's {@code eta_cutoff} is in units
 * of 1e-4 ({@link SamplerSettings} converts).
 */
public final class EtaCutoff implements LogitsProcessor {

    private final double epsilon;
    private final EpsilonCutoff cutter;

    public EtaCutoff(double epsilon, int minTokensToKeep) {
        if (!(epsilon > 0 && epsilon < 1)) {
            throw new IllegalArgumentException("eta epsilon must be a probability > 0 and < 1 (got " + epsilon + ")");
        }
        this.epsilon = epsilon;
        this.cutter = new EpsilonCutoff(epsilon, minTokensToKeep);
    }

    /** The cutoff this warper uses for a distribution of entropy {@code entropy} (nats). */
    public static double eta(double epsilon, double entropy) {
        return Math.min(epsilon, Math.sqrt(epsilon) * Math.exp(-entropy));
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        double lse = Distributions.logSumExp(scores);
        double eta = eta(epsilon, Distributions.entropy(scores, lse));
        cutter.cut(scores, lse, eta);
    }

    @Override
    public String name() {
        return "eta_cutoff";
    }
}
