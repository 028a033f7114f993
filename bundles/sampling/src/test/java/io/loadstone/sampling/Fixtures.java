package io.loadstone.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;

/** Small helpers for the tests: an independent softmax and readable "which tokens survive" checks. */
final class Fixtures {

    static final float NEG_INF = Float.NEGATIVE_INFINITY;

    /** softmax([1, 2, 3]) written out: e^k / (e + e^2 + e^3). */
    static final double P1 = 0.09003057317038046;
    static final double P2 = 0.24472847105479767;
    static final double P3 = 0.6652409557748219;

    private Fixtures() {
    }

    static float[] f(double... v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) v[i];
        }
        return out;
    }

    /** Logits whose softmax is exactly {@code probs} (up to float rounding). */
    static float[] logitsOf(double... probs) {
        float[] out = new float[probs.length];
        for (int i = 0; i < probs.length; i++) {
            out[i] = probs[i] == 0 ? NEG_INF : (float) Math.log(probs[i]);
        }
        return out;
    }

    static List<Integer> live(float[] scores) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < scores.length; i++) {
            if (scores[i] != NEG_INF) {
                out.add(i);
            }
        }
        return out;
    }

    static float[] apply(LogitsProcessor p, float[] scores, int... history) {
        float[] s = scores.clone();
        p.process(new TokenHistory(history), s);
        return s;
    }

    static void assertLive(List<Integer> expected, float[] scores) {
        assertEquals(expected, live(scores), "surviving tokens");
    }

    static double[] softmax(float[] s) {
        double max = Double.NEGATIVE_INFINITY;
        for (float x : s) {
            max = Math.max(max, x);
        }
        double sum = 0;
        double[] out = new double[s.length];
        for (int i = 0; i < s.length; i++) {
            out[i] = s[i] == NEG_INF ? 0 : Math.exp(s[i] - max);
            sum += out[i];
        }
        for (int i = 0; i < s.length; i++) {
            out[i] /= sum;
        }
        return out;
    }
}
