package io.loadstone.sampling;

import static io.loadstone.sampling.Fixtures.NEG_INF;
import static io.loadstone.sampling.Fixtures.P1;
import static io.loadstone.sampling.Fixtures.P2;
import static io.loadstone.sampling.Fixtures.P3;
import static io.loadstone.sampling.Fixtures.apply;
import static io.loadstone.sampling.Fixtures.assertLive;
import static io.loadstone.sampling.Fixtures.f;
import static io.loadstone.sampling.Fixtures.logitsOf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * Each processor on small distributions whose expected results are worked out by hand from
 * the definitions (numbers in the comments). softmax([1,2,3]) = [0.0900, 0.2447, 0.6652].
 */
class ProcessorsTest {

    private static final float[] ONE_TWO_THREE = f(1, 2, 3);

    @Test
    void fixtureConstantsAreTheSoftmaxOfOneTwoThree() {
        double z = Math.E + Math.exp(2) + Math.exp(3);
        assertEquals(Math.E / z, P1, 1e-15);
        assertEquals(Math.exp(2) / z, P2, 1e-15);
        assertEquals(Math.exp(3) / z, P3, 1e-15);
    }

    @Test
    void temperatureDividesEveryScoreAndKeepsMinusInfinity() {
        assertArrayEquals(f(0.5, 1, 1.5, NEG_INF), apply(new Temperature(2), f(1, 2, 3, NEG_INF)));
        assertArrayEquals(f(2, 4, 6), apply(new Temperature(0.5), ONE_TWO_THREE));
        assertThrows(IllegalArgumentException.class, () -> new Temperature(0));
        assertThrows(IllegalArgumentException.class, () -> new Temperature(-1));
    }

    @Test
    void topKKeepsTheKHighestAndEveryTieOfTheKth() {
        assertLive(List.of(1, 3), apply(new TopK(2, 1), f(1, 5, 3, 5, 2)));
        assertLive(List.of(1, 2, 3), apply(new TopK(3, 1), f(1, 5, 3, 5, 2)));
        // transformers compares with the k-th value: all three 2s survive top_k = 1.
        assertLive(List.of(0, 1, 2), apply(new TopK(1, 1), f(2, 2, 2, 1)));
        // min_tokens_to_keep raises k.
        assertLive(List.of(1, 2, 3), apply(new TopK(1, 3), f(1, 5, 3, 5, 2)));
        // k >= vocabulary: nothing to do.
        assertArrayEquals(ONE_TWO_THREE, apply(new TopK(10, 1), ONE_TWO_THREE));
        // Survivors keep their scores untouched.
        assertArrayEquals(f(NEG_INF, 5, NEG_INF, 5, NEG_INF), apply(new TopK(2, 1), f(1, 5, 3, 5, 2)));
    }

    @Test
    void topKPartialSelectionAgreesWithAFullSortOnALargeVocabulary() {
        SplittableRandom rnd = new SplittableRandom(7);
        float[] logits = new float[151_936];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) (rnd.nextGaussian() * 3);
        }
        for (int k : new int[] {1, 40, 1000}) {
            float[] sorted = logits.clone();
            Arrays.sort(sorted);
            float kth = sorted[sorted.length - k];
            float[] out = apply(new TopK(k, 1), logits);
            for (int i = 0; i < logits.length; i++) {
                boolean keep = logits[i] >= kth;
                assertEquals(keep ? logits[i] : NEG_INF, out[i], "token " + i + " for k=" + k);
            }
            assertEquals(k, Fixtures.live(out).size());
        }
    }

    @Test
    void topPRemovesTheLowTailWhoseMassIsAtMostOneMinusP() {
        // Ascending cumulative mass: 0.0900, 0.3348, 1.
        assertLive(List.of(1, 2), apply(new TopP(0.7, 1), ONE_TWO_THREE)); // 1-p = 0.3: only 0.0900 <= 0.3
        assertLive(List.of(2), apply(new TopP(0.6, 1), ONE_TWO_THREE)); // 1-p = 0.4: 0.3348 <= 0.4 too
        assertLive(List.of(0, 1, 2), apply(new TopP(0.95, 1), ONE_TWO_THREE)); // 0.0900 > 0.05
        assertLive(List.of(2), apply(new TopP(0, 1), ONE_TWO_THREE)); // everything but min_keep
        assertLive(List.of(1, 2), apply(new TopP(0.5, 2), ONE_TWO_THREE)); // min_keep = 2
        assertArrayEquals(ONE_TWO_THREE, apply(new TopP(1, 1), ONE_TWO_THREE), "top_p = 1 keeps all");
    }

    @Test
    void topPOnALargeVocabularyMatchesTheSortedDefinition() {
        // The implementation ranks only the head of the distribution (growing it as needed);
        // the reference here sorts everything and walks the cumulative mass from the bottom.
        SplittableRandom rnd = new SplittableRandom(11);
        for (double spread : new double[] {0.3, 2, 8}) {
            float[] logits = new float[32_000];
            for (int i = 0; i < logits.length; i++) {
                logits[i] = i % 7 == 3 ? NEG_INF : (float) (rnd.nextGaussian() * spread);
            }
            for (double p : new double[] {0.0, 0.1, 0.5, 0.9, 0.99, 0.999}) {
                double[] probs = Fixtures.softmax(logits);
                Integer[] asc = new Integer[logits.length];
                for (int i = 0; i < asc.length; i++) {
                    asc[i] = i;
                }
                Arrays.sort(asc, (a, b) -> Float.compare(logits[a], logits[b]));
                boolean[] removed = new boolean[logits.length];
                double cumulative = 0;
                for (int j = 0; j < asc.length - 1; j++) { // the top token always stays
                    cumulative += probs[asc[j]];
                    removed[asc[j]] = cumulative <= 1 - p;
                }
                float[] out = apply(new TopP(p, 1), logits);
                for (int i = 0; i < logits.length; i++) {
                    float expected = removed[i] || logits[i] == NEG_INF ? NEG_INF : logits[i];
                    assertEquals(expected, out[i], "token " + i + ", top_p " + p + ", spread " + spread);
                }
            }
        }
    }

    @Test
    void topPIgnoresTokensAlreadyFiltered() {
        // The -inf token has probability 0 and changes neither the ranking nor the mass.
        assertLive(List.of(2, 3), apply(new TopP(0.7, 1), f(NEG_INF, 1, 2, 3)));
    }

    @Test
    void minPScalesTheThresholdByTheTopProbability() {
        // p_max = 0.6652: min_p 0.2 -> 0.1330 drops 0.0900; min_p 0.5 -> 0.3326 drops 0.2447 too.
        assertLive(List.of(1, 2), apply(new MinP(0.2, 1), ONE_TWO_THREE));
        assertLive(List.of(2), apply(new MinP(0.5, 1), ONE_TWO_THREE));
        assertLive(List.of(1, 2), apply(new MinP(0.5, 2), ONE_TWO_THREE));
        // min_p = 1 keeps the top token and its ties.
        assertLive(List.of(0, 2), apply(new MinP(1, 1), f(3, 1, 3)));
        assertArrayEquals(ONE_TWO_THREE, apply(new MinP(0, 1), ONE_TWO_THREE));
    }

    @Test
    void topAUsesTheSquareOfTheTopProbability() {
        // p_max^2 = 0.44255: a = 0.5 -> 0.2213 (0.2447 stays), a = 0.6 -> 0.2655 (0.2447 goes).
        assertLive(List.of(1, 2), apply(new TopA(0.5, 1), ONE_TWO_THREE));
        assertLive(List.of(2), apply(new TopA(0.6, 1), ONE_TWO_THREE));
        assertLive(List.of(1, 2), apply(new TopA(0.6, 2), ONE_TWO_THREE));
    }

    @Test
    void typicalKeepsTokensWhoseSurpriseIsNearTheEntropy() {
        // H = 0.8324 nats; |-log p - H| = 1.5752, 0.5752, 0.4248: order 2, 1, 0 with cumulative
        // mass 0.6652, 0.9100, 1.
        assertLive(List.of(2), apply(new TypicalP(0.5, 1), ONE_TWO_THREE)); // cut at the first
        assertLive(List.of(1, 2), apply(new TypicalP(0.7, 1), ONE_TWO_THREE)); // cut at the second
        assertLive(List.of(0, 1, 2), apply(new TypicalP(0.95, 1), ONE_TWO_THREE));
        assertLive(List.of(1, 2), apply(new TypicalP(0.5, 2), ONE_TWO_THREE)); // min_keep
    }

    @Test
    void typicalCanDropTheMostLikelyToken() {
        // [2, 1 x 9]: p = 0.2320 and 0.0853; H = 2.2292; |-log p - H| = 0.7681 for the top
        // token and 0.2319 for the others, which reach mass 0.5 at the 6th: the top goes.
        float[] logits = f(2, 1, 1, 1, 1, 1, 1, 1, 1, 1);
        assertLive(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9), apply(new TypicalP(0.5, 1), logits));
        assertThrows(IllegalArgumentException.class, () -> new TypicalP(1, 1));
        assertThrows(IllegalArgumentException.class, () -> new TypicalP(0, 1));
    }

    @Test
    void epsilonDropsTokensBelowAFixedProbabilityButKeepsTheTop() {
        assertLive(List.of(1, 2), apply(new EpsilonCutoff(0.1, 1), ONE_TWO_THREE));
        assertLive(List.of(2), apply(new EpsilonCutoff(0.3, 1), ONE_TWO_THREE));
        assertLive(List.of(2), apply(new EpsilonCutoff(0.7, 1), ONE_TWO_THREE)); // all below: top kept
        assertLive(List.of(1, 2), apply(new EpsilonCutoff(0.7, 2), ONE_TWO_THREE));
    }

    @Test
    void etaCutoffFallsWithEntropy() {
        double h = -(P1 * Math.log(P1) + P2 * Math.log(P2) + P3 * Math.log(P3));
        assertEquals(0.83239, h, 1e-5);
        // eta = min(eps, sqrt(eps) e^-H): eps 0.1 -> min(0.1, 0.1376) = 0.1; eps 0.3 -> 0.2383.
        assertEquals(0.1, EtaCutoff.eta(0.1, h), 1e-12);
        assertEquals(0.23827, EtaCutoff.eta(0.3, h), 1e-5);
        assertLive(List.of(1, 2), apply(new EtaCutoff(0.1, 1), ONE_TWO_THREE));
        // eps 0.3 alone would drop 0.2447 (epsilon), eta's lower cutoff 0.2383 keeps it.
        assertLive(List.of(1, 2), apply(new EtaCutoff(0.3, 1), ONE_TWO_THREE));
        assertLive(List.of(2), apply(new EpsilonCutoff(0.3, 1), ONE_TWO_THREE));
    }

    @Test
    void tailFreeCutsWhereTheSecondDifferenceCdfPassesZ() {
        // p = 0.5, 0.3, 0.15, 0.05: |second differences| = 0.05, 0.05 -> CDF 0.5, 1.0 for
        // positions 1 and 2; the last position always goes.
        float[] logits = logitsOf(0.5, 0.3, 0.15, 0.05);
        assertLive(List.of(0), apply(new TailFree(0.4, 1), logits));
        assertLive(List.of(0, 1), apply(new TailFree(0.6, 1), logits));
        assertLive(List.of(0, 1), apply(new TailFree(0.99, 1), logits));
        assertLive(List.of(0, 1, 2), apply(new TailFree(0.4, 3), logits));
    }

    @Test
    void tailFreeCountsFilteredTokensAsZeroProbabilities() {
        // With one filtered token the sorted vocabulary is 0.5, 0.3, 0.15, 0.05, 0: three
        // second differences of 0.05 -> CDF 1/3, 2/3, 1 for positions 1..3.
        float[] one = logitsOf(0.5, 0.3, 0.15, 0.05, 0);
        assertLive(List.of(0, 1), apply(new TailFree(0.5, 1), one));
        assertLive(List.of(0, 1, 2), apply(new TailFree(0.7, 1), one));
        // Two or more: a fourth difference of 0.05 (then zeros) -> CDF 0.25, 0.5, 0.75.
        float[] two = logitsOf(0.5, 0.3, 0.15, 0.05, 0, 0);
        assertLive(List.of(0, 1, 2), apply(new TailFree(0.7, 1), two));
        assertLive(List.of(0, 1, 2, 3), apply(new TailFree(0.8, 1), two));
        float[] many = logitsOf(0.5, 0.3, 0, 0.15, 0, 0.05, 0, 0);
        assertLive(List.of(0, 1, 3, 5), apply(new TailFree(0.8, 1), many));
    }

    @Test
    void tailFreeOnAFlatDistributionOnlyDropsTheLastPosition() {
        // All second differences are 0: the reference's 0/0 CDF compares false everywhere.
        assertLive(List.of(0, 1, 2), apply(new TailFree(0.5, 1), f(1, 1, 1, 1)));
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeScores() {
        float[] scores = f(2, -2, 1, 0.5);
        // history 0, 1, 1: token 0: 2/2 = 1; token 1 (twice, penalised once): -2*2 = -4.
        assertArrayEquals(f(1, -4, 1, 0.5), apply(new RepetitionPenalty(2, 0, 0, 0), scores, 0, 1, 1));
        // Presence 0.5 once per token, frequency 0.25 per occurrence: 1 - 0.75, -4 - 1.
        assertArrayEquals(f(0.25, -5, 1, 0.5), apply(new RepetitionPenalty(2, 0.5, 0.25, 0), scores, 0, 1, 1));
        // A penalty below 1 rewards: 2/0.5 = 4, -2*0.5 = -1.
        assertArrayEquals(f(4, -1, 1, 0.5), apply(new RepetitionPenalty(0.5, 0, 0, 0), scores, 0, 1));
        // Negative presence/frequency penalties add instead.
        assertArrayEquals(f(2.5, -2, 1, 0.5), apply(new RepetitionPenalty(1, -0.5, 0, 0), scores, 0));
    }

    @Test
    void repetitionPenaltyRangeOnlyLooksAtTheLatestTokens() {
        float[] scores = f(2, -2, 1, 0.5);
        // Range 2 of history 0, 1, 1, 3 is [1, 3]: token 0 untouched.
        assertArrayEquals(f(2, -4, 1, 0.25), apply(new RepetitionPenalty(2, 0, 0, 2), scores, 0, 1, 1, 3));
        // Range larger than the history = all of it.
        assertArrayEquals(f(1, -4, 1, 0.25), apply(new RepetitionPenalty(2, 0, 0, 100), scores, 0, 1, 1, 3));
        // The scratch counts are reset between steps: applying twice penalises twice, not more.
        RepetitionPenalty p = new RepetitionPenalty(1, 0, 1, 0);
        TokenHistory h = new TokenHistory(new int[] {2, 2});
        float[] s = f(0, 0, 0);
        p.process(h, s);
        p.process(h, s);
        assertArrayEquals(f(0, 0, -4), s);
        assertThrows(IllegalArgumentException.class, () -> apply(new RepetitionPenalty(2, 0, 0, 0), scores, 9));
    }

    @Test
    void noRepeatNGramBansTokensThatWouldRepeatAnNGram() {
        float[] s = f(0, 0, 0, 0);
        int[] history = {1, 2, 3, 1, 2};
        assertLive(List.of(0, 1, 2), apply(new NoRepeatNGram(3), s, history)); // [1 2] was followed by 3
        assertLive(List.of(0, 1, 2), apply(new NoRepeatNGram(2), s, history)); // [2] was followed by 3
        assertLive(List.of(0), apply(new NoRepeatNGram(1), s, history)); // every seen token
        assertLive(List.of(0, 1, 2, 3), apply(new NoRepeatNGram(4), s, history)); // [3 1 2] never followed
        assertLive(List.of(0, 1, 2, 3), apply(new NoRepeatNGram(3), s, 1)); // too short for a 3-gram
        // A prefix that only occurs at the end bans nothing.
        assertLive(List.of(0, 1, 2, 3), apply(new NoRepeatNGram(2), s, 1, 2, 3));
    }

    @Test
    void suppressTokensBansFixedIds() {
        assertLive(List.of(1), apply(new SuppressTokens(0, 2, 99), ONE_TWO_THREE));
        assertThrows(IllegalArgumentException.class, () -> new SuppressTokens(-1));
    }

    @Test
    void guidanceCombinesLogSoftmaxValues() {
        // log softmax: cond [-2.4076, -1.4076, -0.4076], uncond reversed.
        // out = u + 1.5 (c - u) = [-0.4076 - 3, -1.4076, -2.4076 + 3].
        double l1 = Math.log(P1);
        double l2 = Math.log(P2);
        double l3 = Math.log(P3);
        float[] cond = f(1, 2, 3);
        ClassifierFreeGuidance.combine(cond, f(3, 2, 1), 1.5);
        assertArrayEquals(f(l3 - 3, l2, l1 + 3), cond, 1e-5f);
        // scale 1 = the prompt's log-probabilities; scale 0 = the negative prompt's.
        float[] one = f(1, 2, 3);
        ClassifierFreeGuidance.combine(one, f(3, 2, 1), 1);
        assertArrayEquals(f(l1, l2, l3), one, 1e-6f);
        float[] zero = f(1, 2, 3);
        ClassifierFreeGuidance.combine(zero, f(7, 6, 5), 0);
        assertArrayEquals(f(l3, l2, l1), zero, 1e-6f);
        // A token filtered on either side stays filtered (no NaN).
        float[] inf = f(1, NEG_INF, 3);
        ClassifierFreeGuidance.combine(inf, f(NEG_INF, 2, 1), 1.5);
        assertEquals(List.of(2), Fixtures.live(inf));
        assertTrue(Float.isFinite(inf[2]));
        assertThrows(IllegalArgumentException.class, () -> ClassifierFreeGuidance.combine(f(1), f(1, 2), 2));
    }

    @Test
    void processorsKeepAllEqualLogitsTogether() {
        float[] flat = f(0.5, 0.5, 0.5, 0.5);
        List<Integer> all = List.of(0, 1, 2, 3);
        assertLive(all, apply(new TopK(2, 1), flat)); // ties with the k-th value stay
        assertLive(all, apply(new MinP(0.9, 1), flat));
        assertLive(all, apply(new TopA(1, 1), flat)); // 0.25 >= 1 * 0.25^2
        assertLive(all, apply(new EpsilonCutoff(0.3, 1), flat)); // all tie with the top score
        assertLive(all, apply(new TypicalP(0.3, 1), flat)); // every surprise equals the entropy
        // top_p cuts by position among ties (higher ids are the "lower" tail), as a sort must.
        assertLive(List.of(0, 1), apply(new TopP(0.5, 1), flat));
    }
}
