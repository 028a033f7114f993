package io.loadstone.sampling;

import static io.loadstone.sampling.Fixtures.NEG_INF;
import static io.loadstone.sampling.Fixtures.f;
import static io.loadstone.sampling.Fixtures.live;
import static io.loadstone.sampling.Fixtures.logitsOf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.Sampling;

class SamplingSessionTest {

    private static SamplingSession session(Map<String, ?> params, int... prompt) {
        return SamplingSession.builder(SamplerSettings.of(params)).prompt(prompt).build();
    }

    private static Map<String, Object> params(Object... kv) {
        Map<String, Object> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    // ---- chain order -------------------------------------------------------------------

    @Test
    void chainFollowsTransformersThenTextGenerationWebuiOrder() {
        Map<String, Object> all = params(Sampling.GUIDANCE_SCALE, 1.5, Sampling.REPETITION_PENALTY, 1.2,
                Sampling.NO_REPEAT_NGRAM_SIZE, 3, Sampling.TEMPERATURE, 0.7, Sampling.TOP_K, 40, Sampling.TOP_P,
                0.9, Sampling.TYPICAL_P, 0.95, Sampling.EPSILON_CUTOFF, 3, Sampling.ETA_CUTOFF, 3, Sampling.TFS,
                0.95, Sampling.TOP_A, 0.2, Sampling.MIN_P, 0.05);
        assertEquals(List.of("guidance_scale", "repetition_penalty", "no_repeat_ngram_size", "temperature", "top_k",
                "top_p", "typical_p", "epsilon_cutoff", "eta_cutoff", "tfs", "top_a", "min_p"),
                SamplerSettings.of(all).chain());

        all.put(Sampling.TEMPERATURE_LAST, true);
        assertEquals(List.of("guidance_scale", "repetition_penalty", "no_repeat_ngram_size", "top_k", "top_p",
                "typical_p", "epsilon_cutoff", "eta_cutoff", "tfs", "top_a", "min_p", "temperature"),
                SamplerSettings.of(all).chain());

        // Mirostat replaces every warper but temperature.
        all.put(Sampling.TEMPERATURE_LAST, false);
        all.put(Sampling.MIROSTAT_MODE, 2);
        assertEquals(List.of("guidance_scale", "repetition_penalty", "no_repeat_ngram_size", "temperature",
                "mirostat"), SamplerSettings.of(all).chain());

        // Greedy runs the processors only.
        all.put(Sampling.DO_SAMPLE, false);
        assertEquals(List.of("guidance_scale", "repetition_penalty", "no_repeat_ngram_size"),
                SamplerSettings.of(all).chain());

        // Neutral settings: nothing but the draw.
        assertEquals(List.of(), SamplerSettings.neutral().chain());
        // Session chain adds suppression and custom processors after the built-in processors.
        SamplingSession s = SamplingSession.builder(SamplerSettings.of(params(Sampling.TOP_K, 5)))
                .suppress(2).processor(new Temperature(1.0)).build();
        assertEquals(List.of("suppress_tokens", "temperature", "top_k"), s.chain());
    }

    @Test
    void temperatureLastChangesWhatTopPKeeps() {
        // logits [1, 2, 3], temperature 0.5, top_p 0.7.
        // Temperature first: softmax([2, 4, 6]) = [0.0159, 0.1173, 0.8668]; the low tail
        // 0.0159 + 0.1173 = 0.1332 <= 0.3 goes, only token 2 is left.
        // Temperature last: top_p sees [0.0900, 0.2447, 0.6652] and drops only token 0.
        Map<String, Object> p = params(Sampling.TEMPERATURE, 0.5, Sampling.TOP_P, 0.7, Sampling.SEED, 1);
        SamplingSession first = session(p);
        assertEquals(2, first.next(f(1, 2, 3)));
        assertEquals(List.of(2), live(first.lastScores()));

        p.put(Sampling.TEMPERATURE_LAST, true);
        SamplingSession last = session(p);
        last.next(f(1, 2, 3));
        assertEquals(List.of(1, 2), live(last.lastScores()));
        // ...and temperature still applies to the survivors: 2/0.5, 3/0.5.
        assertArrayEquals(f(NEG_INF, 4, 6), last.lastScores());
    }

    @Test
    void temperatureLastWithMinPKeepsTheTailThatHighTemperatureWouldLetIn() {
        // min_p 0.2 after temperature 3: softmax([1/3, 2/3, 1]) = [0.2546, 0.3552, 0.3952]: all
        // above 0.2 x 0.3952. min_p before temperature: 0.0900 < 0.2 x 0.6652 = 0.1330 goes.
        Map<String, Object> p = params(Sampling.TEMPERATURE, 3.0, Sampling.MIN_P, 0.2, Sampling.SEED, 5);
        SamplingSession first = session(p);
        first.next(f(1, 2, 3));
        assertEquals(List.of(0, 1, 2), live(first.lastScores()));
        p.put(Sampling.TEMPERATURE_LAST, true);
        SamplingSession last = session(p);
        last.next(f(1, 2, 3));
        assertEquals(List.of(1, 2), live(last.lastScores()));
    }

    // ---- greedy -----------------------------------------------------------------------------

    @Test
    void greedyPicksTheFirstMaximum() {
        SamplingSession s = session(params(Sampling.DO_SAMPLE, false));
        assertEquals(1, s.next(f(0, 5, 5, 1)));
        assertEquals(3, s.next(f(-3, -2, -4, -1)));
    }

    @Test
    void temperatureZeroIsGreedyEvenWithSamplersOn() {
        SamplingSession s = session(params(Sampling.TEMPERATURE, 0, Sampling.TOP_P, 0.5, Sampling.TOP_K, 3));
        assertTrue(s.settings().greedy());
        float[] logits = f(0.1, 0.2, 0.3, 0.25);
        for (int i = 0; i < 20; i++) {
            assertEquals(2, s.next(logits));
        }
        assertEquals(List.of(), s.chain());
    }

    @Test
    void greedyStillAppliesPenalties() {
        // Token 0 (3.0) was seen: 3 / 1.1 = 2.727 < 2.9, so greedy moves to token 1.
        SamplingSession s = session(params(Sampling.DO_SAMPLE, false, Sampling.REPETITION_PENALTY, 1.1), 0);
        assertEquals(1, s.next(f(3, 2.9)));
        assertArrayEquals(f(3 / 1.1, 2.9), s.lastScores(), 1e-6f);
        // n-gram bans too: history 1 0 1, 2-gram (1, 0) exists, so 0 is banned after 1.
        SamplingSession n = session(params(Sampling.DO_SAMPLE, false, Sampling.NO_REPEAT_NGRAM_SIZE, 2), 1, 0, 1);
        assertEquals(1, n.next(f(5, 4)));
    }

    @Test
    void penaltyRangeUsesTheLatestTokensAndAcceptedOnes() {
        SamplingSession s = session(params(Sampling.DO_SAMPLE, false, Sampling.REPETITION_PENALTY, 2.0,
                Sampling.REPETITION_PENALTY_RANGE, 2), 0, 1, 2);
        s.next(f(4, 4, 4, 4));
        assertArrayEquals(f(4, 2, 2, 4), s.lastScores()); // window [1, 2]
        s.accept(3);
        s.next(f(4, 4, 4, 4));
        assertArrayEquals(f(4, 4, 2, 2), s.lastScores()); // window [2, 3]
        assertArrayEquals(new int[] {0, 1, 2, 3}, s.tokens());
    }

    @Test
    void aRewardBelowOneIgnoresTheRangeAsTextGenerationWebuiDoes() {
        // Only penalty > 1 (or presence/frequency) switches to the ranged processor; a reward
        // alone is transformers' processor over the whole context.
        SamplingSession s = session(params(Sampling.DO_SAMPLE, false, Sampling.REPETITION_PENALTY, 0.5,
                Sampling.REPETITION_PENALTY_RANGE, 1), 0, 1);
        s.next(f(1, 1, 1));
        assertArrayEquals(f(2, 2, 1), s.lastScores());
    }

    // ---- guidance -----------------------------------------------------------------------------

    @Test
    void guidanceCanChangeTheChoice() {
        // out = 2 lc - lu = 2c - u + const: [3, 4.8, 0] -> token 1, where the prompt alone says 0.
        SamplingSession s = session(params(Sampling.DO_SAMPLE, false, Sampling.GUIDANCE_SCALE, 2.0));
        assertEquals(1, s.next(f(3, 2.9, 0), f(3, 1, 0)));
        SamplingSession plain = session(params(Sampling.DO_SAMPLE, false));
        assertEquals(0, plain.next(f(3, 2.9, 0), f(3, 1, 0)), "scale 1 ignores the negative prompt");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.next(f(3, 2.9, 0)));
        assertTrue(e.getMessage().contains("guidance_scale"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> s.next(f(3, 2.9, 0), f(3, 1)));
    }

    @Test
    void guidanceFeedsLogProbabilitiesToThePenalty() {
        // After guidance every score is a log-probability (< 0), so the penalty multiplies.
        SamplingSession s = session(params(Sampling.DO_SAMPLE, false, Sampling.GUIDANCE_SCALE, 1.5,
                Sampling.REPETITION_PENALTY, 2.0), 2);
        s.next(f(1, 2, 3), f(3, 2, 1));
        double l1 = Math.log(Fixtures.P1);
        double l2 = Math.log(Fixtures.P2);
        double l3 = Math.log(Fixtures.P3);
        // token 2: l1 + 3 = 0.5924 > 0 -> divided by 2.
        assertArrayEquals(f(l3 - 3, l2, (l1 + 3) / 2), s.lastScores(), 1e-5f);
    }

    // ---- reproducibility and statistics -------------------------------------------------------

    private static int[] generate(SamplingSession s, float[][] steps) {
        int[] out = new int[steps.length];
        for (int i = 0; i < steps.length; i++) {
            out[i] = s.next(steps[i]);
            s.accept(out[i]);
        }
        return out;
    }

    private static float[][] randomSteps(int steps, int vocab) {
        SplittableRandom rnd = new SplittableRandom(99);
        float[][] out = new float[steps][vocab];
        for (float[] row : out) {
            for (int i = 0; i < vocab; i++) {
                row[i] = (float) (rnd.nextGaussian() * 2);
            }
        }
        return out;
    }

    @Test
    void sameSeedSameTokensDifferentSeedDifferentTokens() {
        float[][] steps = randomSteps(64, 500);
        Map<String, Object> p = params(Sampling.TEMPERATURE, 1.3, Sampling.TOP_K, 100, Sampling.TOP_P, 0.95,
                Sampling.REPETITION_PENALTY, 1.1, Sampling.SEED, 1234);
        int[] a = generate(session(p), steps);
        int[] b = generate(session(p), steps);
        assertArrayEquals(a, b);
        p.put(Sampling.SEED, 1235);
        int[] c = generate(session(p), steps);
        assertFalse(java.util.Arrays.equals(a, c), "seeds 1234 and 1235 gave the same 64 tokens");
        assertEquals(1234, session(params(Sampling.SEED, 1234)).seed());
    }

    @Test
    void seedMinusOnePicksARandomSeedThatReplays() {
        float[][] steps = randomSteps(32, 300);
        SamplingSession random = session(params(Sampling.SEED, -1));
        long seed = random.seed();
        assertTrue(seed >= 1 && seed < (1L << 31), "seed " + seed);
        int[] first = generate(random, steps);
        int[] replay = generate(session(params(Sampling.SEED, seed)), steps);
        assertArrayEquals(first, replay);
    }

    @Test
    void drawFrequenciesMatchTheProcessedDistribution() {
        // temperature 0.8 then top_k 4 over 8 tokens; a fixed seed keeps the test deterministic.
        float[] logits = f(0.0, 1.0, 2.0, 0.5, -1.0, 2.5, 1.5, -0.5);
        SamplingSession s = session(params(Sampling.TEMPERATURE, 0.8, Sampling.TOP_K, 4, Sampling.SEED, 42));
        int n = 200_000;
        int[] counts = new int[logits.length];
        for (int i = 0; i < n; i++) {
            counts[s.next(logits)]++;
        }
        // Expected, from the definitions: top 4 logits are 2.5, 2.0, 1.5, 1.0 (tokens 5, 2, 6, 1).
        double[] expected = new double[logits.length];
        double z = 0;
        for (int t : new int[] {1, 2, 5, 6}) {
            expected[t] = Math.exp(logits[t] / 0.8);
            z += expected[t];
        }
        double chi2 = 0;
        for (int t = 0; t < logits.length; t++) {
            expected[t] /= z;
            if (expected[t] == 0) {
                assertEquals(0, counts[t], "token " + t + " was filtered but drawn");
                continue;
            }
            double freq = counts[t] / (double) n;
            double sigma = Math.sqrt(expected[t] * (1 - expected[t]) / n);
            assertEquals(expected[t], freq, 5 * sigma, "token " + t);
            chi2 += Math.pow(counts[t] - n * expected[t], 2) / (n * expected[t]);
        }
        // 3 degrees of freedom: P(chi2 > 16.27) = 0.001.
        assertTrue(chi2 < 16.27, "chi2 " + chi2);
        // The session's own view of the distribution agrees with the hand computation.
        double[] fromSession = Fixtures.softmax(s.lastScores());
        for (int t = 0; t < logits.length; t++) {
            assertEquals(expected[t], fromSession[t], 1e-6);
        }
    }

    // ---- mirostat -----------------------------------------------------------------------------

    @Test
    void mirostatUpdatesMuFromTheObservedSurprise() {
        // p = 1/2, 1/4, 1/8, 1/16, 1/16: surprises 1, 2, 3, 4, 4 bits; tau 5 -> mu starts at 10,
        // nothing is truncated, and mu' = 10 - 0.1 (surprise - 5).
        double[] p = {0.5, 0.25, 0.125, 0.0625, 0.0625};
        SamplingSession s = session(params(Sampling.MIROSTAT_MODE, 2, Sampling.MIROSTAT_TAU, 5.0,
                Sampling.MIROSTAT_ETA, 0.1, Sampling.SEED, 3));
        assertEquals(10.0, s.mirostatMu());
        int t = s.next(logitsOf(p));
        double surprise = -Math.log(p[t]) / Math.log(2);
        assertEquals(10 - 0.1 * (surprise - 5), s.mirostatMu(), 1e-6);
        assertEquals(List.of(t), live(s.lastScores()), "mirostat leaves only its pick");
        assertTrue(Double.isNaN(session(params()).mirostatMu()));
    }

    @Test
    void mirostatTruncatesAtMuAndTracksTau() {
        // tau 1.1 -> mu 2.2: the first token over 2.2 bits is the third, so only tokens 0 and 1
        // (renormalised to 2/3, 1/3) can come out first; replay mu by the definition each step.
        float[] logits = logitsOf(0.5, 0.25, 0.125, 0.0625, 0.0625);
        double[] p = Fixtures.softmax(logits); // the float logits' own probabilities
        double[] bits = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            bits[i] = -Math.log(p[i]) / Math.log(2);
        }
        double tau = 1.1;
        double eta = 0.5;
        SamplingSession s = session(params(Sampling.MIROSTAT_MODE, 2, Sampling.MIROSTAT_TAU, tau,
                Sampling.MIROSTAT_ETA, eta, Sampling.SEED, 11));
        double mu = 2 * tau;
        double surpriseSum = 0;
        int steps = 2000;
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < steps; i++) {
            int keep = p.length;
            for (int j = 0; j < p.length; j++) {
                if (bits[j] > mu) {
                    keep = Math.max(j, 1);
                    break;
                }
            }
            int t = s.next(logits);
            assertTrue(t < keep, "step " + i + ": token " + t + " but mu " + mu + " keeps " + keep);
            double kept = 0;
            for (int j = 0; j < keep; j++) {
                kept += p[j];
            }
            double surprise = -Math.log(p[t] / kept) / Math.log(2);
            surpriseSum += surprise;
            mu -= eta * (surprise - tau);
            assertEquals(mu, s.mirostatMu(), 1e-6, "mu after step " + i);
            seen.add(t);
        }
        // Mirostat's feedback holds the mean surprise at tau: sum(s - tau) = (mu0 - mu_n) / eta.
        assertEquals(tau, surpriseSum / steps, 0.01);
        assertTrue(seen.size() >= 2, "mirostat never varied its pick: " + seen);
    }

    @Test
    void mirostatV1TurnsMuIntoATopKFromTheZipfExponent() {
        // A Zipf head p_i ~ (i+1)^-1.5 over N = 1000 tokens: the fit gives s = 1.5 exactly, so with
        // tau 2 (mu 4) k = (0.5 * 2^4 / (1 - 1000^-0.5))^(1/1.5) = 8.2612^(2/3) = 4.09 -> top 4.
        float[] logits = new float[1000];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) (-1.5 * Math.log(i + 1));
        }
        double kept = 0;
        for (int i = 0; i < 4; i++) {
            kept += Math.pow(i + 1, -1.5);
        }
        Set<Integer> seen = new HashSet<>();
        for (int seed = 1; seed <= 200; seed++) {
            SamplingSession s = session(params(Sampling.MIROSTAT_MODE, 1, Sampling.MIROSTAT_TAU, 2.0,
                    Sampling.MIROSTAT_ETA, 0.1, Sampling.SEED, seed));
            assertEquals(4.0, s.mirostatMu());
            int t = s.next(logits);
            seen.add(t);
            double surprise = -Math.log(Math.pow(t + 1, -1.5) / kept) / Math.log(2);
            assertEquals(4 - 0.1 * (surprise - 2), s.mirostatMu(), 1e-5, "seed " + seed);
        }
        assertEquals(Set.of(0, 1, 2, 3), seen);
        assertEquals(List.of("mirostat"), SamplerSettings.of(params(Sampling.MIROSTAT_MODE, 1, Sampling.TOP_P,
                0.5)).chain());
    }

    @Test
    void mirostatIgnoresTheTruncationWarpers() {
        // top_k 1 would force token 0; under mirostat it is dropped, so other tokens appear.
        SamplingSession s = session(params(Sampling.MIROSTAT_MODE, 2, Sampling.TOP_K, 1, Sampling.SEED, 8));
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            seen.add(s.next(logitsOf(0.4, 0.3, 0.3)));
        }
        assertEquals(Set.of(0, 1, 2), seen);
    }

    // ---- requests, parameters and errors ------------------------------------------------------

    @Test
    void startsFromAGenerationRequest() {
        GenerationRequest req = new GenerationRequest("hi", 8, Map.of(Sampling.TOP_K, 2L, Sampling.SEED, 7L),
                List.of(), true, false, "");
        SamplingSession s = SamplingSession.start(req, new int[] {4, 5});
        assertEquals(7, s.seed());
        assertArrayEquals(new int[] {4, 5}, s.tokens());
        assertEquals(List.of("top_k"), s.chain());
        int t = s.next(f(0, 9, 8, 0, 0, 0));
        assertTrue(t == 1 || t == 2);
        assertEquals(0, SamplingSession.start(GenerationRequest.greedy("x", 1), new int[0], 0).next(f(2, 1)));
        // ban_eos_token: the eos id is suppressed only when the request asks.
        GenerationRequest banEos = new GenerationRequest("x", 1, Map.of(Sampling.DO_SAMPLE, false), List.of(), true,
                true, "");
        SamplingSession banned = SamplingSession.start(banEos, new int[0], 0);
        assertEquals(1, banned.next(f(2, 1)));
        assertEquals(List.of("suppress_tokens"), banned.chain());
    }

    @Test
    void supportsEverySamplingParameter() {
        assertEquals(Sampling.all(), SamplerSettings.supportedParameters());
        assertEquals(SamplerSettings.neutral(), SamplerSettings.of(Sampling.neutral()));
    }

    @Test
    void parsesNumbersBooleansAndText() {
        SamplerSettings s = SamplerSettings.of(Map.of(Sampling.TOP_K, "40", Sampling.TOP_P, "0.5",
                Sampling.TEMPERATURE_LAST, "true", Sampling.SEED, 12345678901L, Sampling.MIN_P, 0.1f,
                Sampling.NO_REPEAT_NGRAM_SIZE, 3.0));
        assertEquals(40, s.topK());
        assertEquals(0.5, s.topP());
        assertTrue(s.temperatureLast());
        assertEquals(12345678901L, s.seed());
        assertEquals(3, s.noRepeatNgramSize());
    }

    @Test
    void rejectsBadParametersWithMessagesThatNameThem() {
        assertMessage("top_p = 1.5", Map.of(Sampling.TOP_P, 1.5));
        assertMessage("unknown sampling parameter 'top_q'", Map.of("top_q", 0.5));
        assertMessage("mirostat_mode = 3", Map.of(Sampling.MIROSTAT_MODE, 3));
        assertMessage("top_k = 40.5 must be a whole number", Map.of(Sampling.TOP_K, 40.5));
        assertMessage("temperature = -1", Map.of(Sampling.TEMPERATURE, -1));
        assertMessage("repetition_penalty = 0", Map.of(Sampling.REPETITION_PENALTY, 0));
        assertMessage("typical_p = 0", Map.of(Sampling.TYPICAL_P, 0));
        assertMessage("epsilon_cutoff = 10000", Map.of(Sampling.EPSILON_CUTOFF, 10000));
        assertMessage("do_sample must be true or false", Map.of(Sampling.DO_SAMPLE, "yes"));
        assertMessage("top_p = 'lots' is not a number", Map.of(Sampling.TOP_P, "lots"));
    }

    private static void assertMessage(String expected, Map<String, ?> params) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SamplerSettings.of(params));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void epsilonAndEtaAreInTextGenerationWebuiUnits() {
        // epsilon_cutoff 1000 = 0.1: of [0.0900, 0.2447, 0.6652] token 0 goes.
        SamplingSession s = session(params(Sampling.EPSILON_CUTOFF, 1000, Sampling.SEED, 2));
        s.next(f(1, 2, 3));
        assertEquals(List.of(1, 2), live(s.lastScores()));
        SamplingSession e = session(params(Sampling.ETA_CUTOFF, 3000, Sampling.SEED, 2)); // eta 0.2383
        e.next(f(1, 2, 3));
        assertEquals(List.of(1, 2), live(e.lastScores()));
    }

    @Test
    void rejectsMalformedLogitsAndTokens() {
        SamplingSession s = session(params(Sampling.SEED, 1));
        IllegalArgumentException nan = assertThrows(IllegalArgumentException.class,
                () -> s.next(f(0, Float.NaN, 1)));
        assertTrue(nan.getMessage().contains("at token 1"), nan.getMessage());
        s.next(f(0, 1, 2));
        assertThrows(IllegalArgumentException.class, () -> s.next(f(0, 1)), "vocabulary changed");
        assertThrows(IllegalArgumentException.class, () -> s.accept(3));
        assertThrows(IllegalArgumentException.class, () -> s.next(new float[0]));
    }

    @Test
    void everyTokenBannedIsAClearError() {
        SamplingSession s = SamplingSession.builder(SamplerSettings.neutral()).suppress(0, 1).build();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.next(f(1, 2)));
        assertTrue(e.getMessage().contains("filtered out"), e.getMessage());
        SamplingSession g = SamplingSession.builder(SamplerSettings.of(Map.of(Sampling.DO_SAMPLE, false)))
                .suppress(0, 1).build();
        assertThrows(IllegalStateException.class, () -> g.next(f(1, 2)));
    }

    @Test
    void suppressedTokensAndCustomProcessorsApplyToGreedyDecoding() {
        SamplingSession s = SamplingSession.builder(SamplerSettings.of(Map.of(Sampling.DO_SAMPLE, false)))
                .suppress(2).processor((h, scores) -> scores[0] += 10).build();
        assertEquals(0, s.next(f(1, 2, 3)));
        assertArrayEquals(f(11, 2, NEG_INF), s.lastScores());
    }

    @Test
    void doesNotModifyTheCallersLogits() {
        float[] logits = f(1, 2, 3);
        float[] uncond = f(3, 2, 1);
        SamplingSession s = session(params(Sampling.TEMPERATURE, 0.5, Sampling.TOP_K, 1, Sampling.GUIDANCE_SCALE,
                1.5, Sampling.REPETITION_PENALTY, 1.5), 0);
        s.next(logits, uncond);
        assertArrayEquals(f(1, 2, 3), logits);
        assertArrayEquals(f(3, 2, 1), uncond);
        assertNotEquals(0, s.lastScores().length);
    }
}
