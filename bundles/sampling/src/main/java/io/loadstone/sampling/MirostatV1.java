package io.loadstone.sampling;

import java.util.random.RandomGenerator;

/**
 * Mirostat 1.0 (Basu et al., as llama.cpp implements it): estimates the Zipf exponent
 * {@code s} of the distribution from its {@code m = 100} most likely tokens, turns the
 * running surprise budget {@code mu} into a top-k size
 * {@code k = (eps 2^mu / (1 - N^-eps))^(1/s)} with {@code eps = s - 1}, samples from those k
 * and moves mu by {@code -eta (surprise - tau)}. text-generation-webui's HF path has no
 * mode 1 (it silently ignored it); the native llama.cpp loader has, so sessions offer it.
 * Like {@link Mirostat} it picks the token itself and leaves only that one.
 */
public final class MirostatV1 implements LogitsProcessor {

    private static final int M = 100;

    private final double tau;
    private final double eta;
    private final RandomGenerator random;
    private final Ranking ranking = new Ranking();
    private double mu;

    public MirostatV1(double tau, double eta, RandomGenerator random) {
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
        int live = 0;
        for (float s : scores) {
            if (s != Float.NEGATIVE_INFINITY) {
                live++;
            }
        }
        if (live == 0) {
            return;
        }
        int n = scores.length;
        // The fit only needs the head; p_i / p_{i+1} = exp(s_i - s_{i+1}), so no normaliser either.
        ranking.rankTop(scores, Math.min(M, live), live);
        int[] order = ranking.order;
        double sumTiBi = 0;
        double sumTiSq = 0;
        for (int i = 0; i < M - 1 && i < ranking.size - 1; i++) {
            double ti = Math.log((i + 2) / (double) (i + 1));
            double bi = (double) scores[order[i]] - scores[order[i + 1]];
            sumTiBi += ti * bi;
            sumTiSq += ti * ti;
        }
        double sHat = sumTiBi / sumTiSq;
        double epsHat = sHat - 1;
        double kReal = Math.pow(epsHat * Math.pow(2, mu) / (1 - Math.pow(n, -epsHat)), 1 / sHat);
        // A flat head (s = 0) or a single live token makes the formula degenerate: keep it in range.
        int k = Double.isNaN(kReal) ? 1 : (int) Math.max(1, Math.min(kReal, live));
        if (k > ranking.size) {
            ranking.rankTop(scores, k, live);
        }
        double max = scores[order[0]];
        double kept = 0;
        for (int j = 0; j < k; j++) {
            kept += Math.exp(scores[ranking.order[j]] - max);
        }
        double u = random.nextDouble() * kept;
        int chosen = k - 1;
        double acc = 0;
        for (int j = 0; j < k; j++) {
            acc += Math.exp(scores[ranking.order[j]] - max);
            if (u < acc) {
                chosen = j;
                break;
            }
        }
        double p = Math.exp(scores[ranking.order[chosen]] - max) / kept;
        mu -= eta * (-Math.log(p) / Math.log(2) - tau);
        int token = ranking.order[chosen];
        for (int i = 0; i < n; i++) {
            if (i != token) {
                scores[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    @Override
    public String name() {
        return "mirostat";
    }
}
