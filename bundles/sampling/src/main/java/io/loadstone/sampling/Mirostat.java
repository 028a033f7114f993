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
    private final Ranking ranking = new Ranking();
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
        ranking.rankDescending(scores);
        int size = ranking.size;
        if (size == 0) {
            return;
        }
        ranking.softmax(scores);
        double[] probs = ranking.probs;
        int keep = size;
        for (int j = 0; j < size; j++) {
            double pj = probs[j];
            if (pj > 0 && -log2(pj) > mu) {
                keep = Math.max(j, 1);
                break;
            }
        }
        double kept = 0;
        for (int j = 0; j < keep; j++) {
            kept += probs[j];
        }
        double u = random.nextDouble() * kept;
        int chosen = keep - 1;
        double acc = 0;
        for (int j = 0; j < keep; j++) {
            acc += probs[j];
            if (u < acc) {
                chosen = j;
                break;
            }
        }
        double surprise = -log2(probs[chosen] / kept);
        mu -= eta * (surprise - tau);
        int token = ranking.order[chosen];
        for (int j = 0; j < size; j++) {
            int t = ranking.order[j];
            if (t != token) {
                scores[t] = Float.NEGATIVE_INFINITY;
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
