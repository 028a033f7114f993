package io.loadstone.sampling;

import java.util.random.RandomGenerator;

/**
 * Mirostat 2.0 (text-generation-webui's {@code MirostatLogitsWarper}, mode 2). It keeps a
 * running surprise budget {@code mu} (starting at {@code 2 tau}) for the whole generation:
 * each step it drops every token whose surprise {@code -log2 p} exceeds mu (always keeping
 * the most likely), samples from the rest, and moves mu by {@code -eta (surprise - tau)},
 * the surprise measured on the renormalised kept distribution. It picks the token itself and
 * leaves only that one, so it must be the last filter (only temperature may follow).
 */
public final class Mirostat implements LogitsProcessor {

    private final double tau;
    private final double eta;
    private final RandomGenerator random;
    private double[] weights = new double[0];
    private double mu;

    public Mirostat(double tau, double eta, RandomGenerator random) {
        if (!Double.isFinite(tau) || !Double.isFinite(eta)) {
            throw new IllegalArgumentException("mirostat_tau and mirostat_eta must be finite numbers (got tau="
                    + tau + ", eta=" + eta + ")");
        }
        this.tau = tau;
        this.eta = eta;
        this.random = random;
        this.mu = 2 * tau;
    }

    /** The current surprise budget. */
    public double mu() {
        return mu;
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        float max = Distributions.max(scores);
        if (max == Float.NEGATIVE_INFINITY) {
            return;
        }
        int n = scores.length;
        if (weights.length < n) {
            weights = new double[n];
        }
        double total = 0;
        for (int i = 0; i < n; i++) {
            double w = scores[i] == Float.NEGATIVE_INFINITY ? 0 : Math.exp(scores[i] - (double) max);
            weights[i] = w;
            total += w;
        }
        // The reference walks the sorted probabilities and cuts at the first whose surprise
        // exceeds mu; surprise grows as probability falls, so that prefix is exactly the set
        // with p >= 2^-mu (never empty: the top token always stays). No sort needed.
        double floor = Math.pow(2, -mu) * total;
        double kept = 0;
        for (int i = 0; i < n; i++) {
            if (weights[i] >= floor) {
                kept += weights[i];
            }
        }
        if (kept == 0) {
            // Even the most likely token is over budget: keep it (and its ties) alone.
            floor = Math.exp(0); // weight of the maximum
            for (int i = 0; i < n; i++) {
                if (weights[i] >= floor) {
                    kept += weights[i];
                }
            }
        }
        double u = random.nextDouble() * kept;
        int chosen = -1;
        double acc = 0;
        for (int i = 0; i < n; i++) {
            if (weights[i] >= floor && weights[i] > 0) {
                acc += weights[i];
                chosen = i;
                if (u < acc) {
                    break;
                }
            }
        }
        double surprise = -log2(weights[chosen] / kept);
        mu -= eta * (surprise - tau);
        for (int i = 0; i < n; i++) {
            if (i != chosen) {
                scores[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    private static double log2(double x) {
        return Math.log(x) / Math.log(2);
    }

    @Override
    public String name() {
        return "mirostat";
    }
}
