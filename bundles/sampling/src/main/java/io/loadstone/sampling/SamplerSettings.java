package io.loadstone.sampling;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.random.RandomGenerator;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.Sampling;

/**
 * Validated generation parameters, in text-generation-webui's names and units (so
 * {@code epsilon_cutoff} and {@code eta_cutoff} are in units of 1e-4), and the logits chain
 * they describe. Immutable; build a {@link SamplingSession} from it for each generation.
 *
 * @param temperature            0 = greedy, otherwise > 0 (1 = off)
 * @param topK                   0 = off
 * @param topP                   1 = off
 * @param minP                   0 = off
 * @param typicalP               1 = off
 * @param tfs                    1 = off
 * @param topA                   0 = off
 * @param epsilonCutoff          ×1e-4, 0 = off
 * @param etaCutoff              ×1e-4, 0 = off
 * @param repetitionPenalty      1 = off
 * @param repetitionPenaltyRange latest tokens the penalties look at, 0 = all
 * @param presencePenalty        0 = off
 * @param frequencyPenalty       0 = off
 * @param noRepeatNgramSize      0 = off
 * @param mirostatMode           0 = off, 1 = mirostat 1.0, 2 = mirostat 2.0
 * @param mirostatTau            target surprise (bits)
 * @param mirostatEta            learning rate of mu
 * @param guidanceScale          classifier-free guidance, 1 = off
 * @param temperatureLast        apply temperature after every other warper
 * @param doSample               false = greedy
 * @param seed                   -1 = a fresh random seed per session
 */
public record SamplerSettings(double temperature, int topK, double topP, double minP, double typicalP, double tfs,
        double topA, double epsilonCutoff, double etaCutoff, double repetitionPenalty, int repetitionPenaltyRange,
        double presencePenalty, double frequencyPenalty, int noRepeatNgramSize, int mirostatMode, double mirostatTau,
        double mirostatEta, double guidanceScale, boolean temperatureLast, boolean doSample, long seed) {

    private static final Set<String> SUPPORTED = Set.copyOf(Sampling.all());

    /** transformers' {@code min_tokens_to_keep} without beam search. */
    private static final int MIN_TOKENS_TO_KEEP = 1;

    public SamplerSettings {
        check(Sampling.TEMPERATURE, temperature, temperature >= 0 && Double.isFinite(temperature),
                "a finite number >= 0 (0 = greedy)");
        check(Sampling.TOP_K, topK, topK >= 0, "an integer >= 0 (0 = off)");
        check(Sampling.TOP_P, topP, topP >= 0 && topP <= 1, "in [0, 1] (1 = off)");
        check(Sampling.MIN_P, minP, minP >= 0 && minP <= 1, "in [0, 1] (0 = off)");
        check(Sampling.TYPICAL_P, typicalP, typicalP > 0 && typicalP <= 1,
                "in (0, 1] (1 = off; transformers refuses 0)");
        check(Sampling.TFS, tfs, tfs >= 0 && tfs <= 1, "in [0, 1] (1 = off)");
        check(Sampling.TOP_A, topA, topA >= 0 && topA <= 1, "in [0, 1] (0 = off)");
        check(Sampling.EPSILON_CUTOFF, epsilonCutoff, epsilonCutoff >= 0 && epsilonCutoff < 1e4,
                "in [0, 10000) in units of 1e-4 (0 = off; 3 to 9 are typical)");
        check(Sampling.ETA_CUTOFF, etaCutoff, etaCutoff >= 0 && etaCutoff < 1e4,
                "in [0, 10000) in units of 1e-4 (0 = off; 3 to 40 are typical)");
        check(Sampling.REPETITION_PENALTY, repetitionPenalty,
                repetitionPenalty > 0 && Double.isFinite(repetitionPenalty), "a finite number > 0 (1 = off)");
        check(Sampling.REPETITION_PENALTY_RANGE, repetitionPenaltyRange, repetitionPenaltyRange >= 0,
                "an integer >= 0 (0 = the whole context)");
        check(Sampling.PRESENCE_PENALTY, presencePenalty, Double.isFinite(presencePenalty), "a finite number");
        check(Sampling.FREQUENCY_PENALTY, frequencyPenalty, Double.isFinite(frequencyPenalty), "a finite number");
        check(Sampling.NO_REPEAT_NGRAM_SIZE, noRepeatNgramSize, noRepeatNgramSize >= 0, "an integer >= 0 (0 = off)");
        check(Sampling.MIROSTAT_MODE, mirostatMode, mirostatMode >= 0 && mirostatMode <= 2,
                "0 (off), 1 (mirostat 1.0) or 2 (mirostat 2.0)");
        check(Sampling.MIROSTAT_TAU, mirostatTau, mirostatTau >= 0 && Double.isFinite(mirostatTau),
                "a finite number >= 0");
        check(Sampling.MIROSTAT_ETA, mirostatEta, mirostatEta >= 0 && Double.isFinite(mirostatEta),
                "a finite number >= 0");
        check(Sampling.GUIDANCE_SCALE, guidanceScale, Double.isFinite(guidanceScale), "a finite number (1 = off)");
    }

    private static void check(String name, double value, boolean ok, String expected) {
        if (!ok) {
            throw new IllegalArgumentException("sampling parameter " + name + " = " + format(value)
                    + " is invalid: expected " + expected);
        }
    }

    private static String format(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    /** Every parameter at its neutral value: plain sampling from the model's distribution. */
    public static SamplerSettings neutral() {
        return of(Map.of());
    }

    /** The parameters this module implements (every {@link Sampling} name), for {@code Capabilities.samplers()}. */
    public static Set<String> supportedParameters() {
        return SUPPORTED;
    }

    public static SamplerSettings of(GenerationRequest request) {
        return of(request.sampling());
    }

    /**
     * Parses parameters by {@link Sampling} name; missing ones are neutral. Values may be
     * numbers, booleans or their text.
     *
     * @throws IllegalArgumentException naming the parameter and the accepted values when a
     *                                  name is unknown or a value is out of range
     */
    public static SamplerSettings of(Map<String, ?> params) {
        for (String k : params.keySet()) {
            if (!SUPPORTED.contains(k)) {
                throw new IllegalArgumentException("unknown sampling parameter '" + k + "'; supported: "
                        + new TreeSet<>(SUPPORTED));
            }
        }
        Reader r = new Reader(params);
        return new SamplerSettings(r.num(Sampling.TEMPERATURE), r.integer(Sampling.TOP_K), r.num(Sampling.TOP_P),
                r.num(Sampling.MIN_P), r.num(Sampling.TYPICAL_P), r.num(Sampling.TFS), r.num(Sampling.TOP_A),
                r.num(Sampling.EPSILON_CUTOFF), r.num(Sampling.ETA_CUTOFF), r.num(Sampling.REPETITION_PENALTY),
                r.integer(Sampling.REPETITION_PENALTY_RANGE), r.num(Sampling.PRESENCE_PENALTY),
                r.num(Sampling.FREQUENCY_PENALTY), r.integer(Sampling.NO_REPEAT_NGRAM_SIZE),
                r.integer(Sampling.MIROSTAT_MODE), r.num(Sampling.MIROSTAT_TAU), r.num(Sampling.MIROSTAT_ETA),
                r.num(Sampling.GUIDANCE_SCALE), r.flag(Sampling.TEMPERATURE_LAST), r.flag(Sampling.DO_SAMPLE),
                r.longValue(Sampling.SEED));
    }

    /** True when decoding is argmax over the processed scores (do_sample off, or temperature 0). */
    public boolean greedy() {
        return !doSample || temperature == 0;
    }

    /** True when each step needs the negative prompt's logits too. */
    public boolean usesGuidance() {
        return guidanceScale != 1;
    }

    /** True when mirostat replaces the truncation warpers. */
    public boolean usesMirostat() {
        return mirostatMode != 0 && !greedy();
    }

    /**
     * The chain's steps in the order they run, by parameter name: what a session will do
     * with these settings ({@code guidance_scale} first, the sampling draw after the last).
     */
    public List<String> chain() {
        List<String> names = new ArrayList<>();
        if (usesGuidance()) {
            names.add(Sampling.GUIDANCE_SCALE);
        }
        for (LogitsProcessor p : processors()) {
            names.add(p.name());
        }
        for (LogitsProcessor p : warpers(RandomGenerator.of("L64X128MixRandom"))) {
            names.add(p.name());
        }
        return names;
    }

    /**
     * The processors, which run for greedy decoding too: penalties and n-gram bans
     * (transformers' {@code _get_logits_processor} with text-generation-webui's range variant).
     */
    List<LogitsProcessor> processors() {
        List<LogitsProcessor> list = new ArrayList<>();
        // text-generation-webui swaps in its ranged processor only when a penalty is active
        // in the usual direction; a reward (penalty < 1) alone keeps transformers' processor,
        // which looks at the whole context.
        boolean ranged = repetitionPenalty > 1 || presencePenalty != 0 || frequencyPenalty != 0;
        if (ranged) {
            list.add(new RepetitionPenalty(repetitionPenalty, presencePenalty, frequencyPenalty,
                    repetitionPenaltyRange));
        } else if (repetitionPenalty != 1) {
            list.add(new RepetitionPenalty(repetitionPenalty, 0, 0, 0));
        }
        if (noRepeatNgramSize > 0) {
            list.add(new NoRepeatNGram(noRepeatNgramSize));
        }
        return list;
    }

    /**
     * The warpers, which only run when sampling: transformers' order (temperature, top-k,
     * top-p, typical, epsilon, eta) followed by text-generation-webui's (tail-free, top-a,
     * min-p), or mirostat instead of all but temperature; temperature_last moves
     * temperature to the end.
     */
    List<LogitsProcessor> warpers(RandomGenerator random) {
        List<LogitsProcessor> list = new ArrayList<>();
        if (greedy()) {
            return list;
        }
        Temperature temp = temperature != 1 ? new Temperature(temperature) : null;
        if (temp != null && !temperatureLast) {
            list.add(temp);
        }
        if (usesMirostat()) {
            list.add(mirostatMode == 2 ? new Mirostat(mirostatTau, mirostatEta, random)
                    : new MirostatV1(mirostatTau, mirostatEta, random));
        } else {
            if (topK != 0) {
                list.add(new TopK(topK, MIN_TOKENS_TO_KEEP));
            }
            if (topP < 1) {
                list.add(new TopP(topP, MIN_TOKENS_TO_KEEP));
            }
            if (typicalP < 1) {
                list.add(new TypicalP(typicalP, MIN_TOKENS_TO_KEEP));
            }
            double eps = epsilonCutoff * 1e-4;
            if (eps > 0 && eps < 1) {
                list.add(new EpsilonCutoff(eps, MIN_TOKENS_TO_KEEP));
            }
            double eta = etaCutoff * 1e-4;
            if (eta > 0 && eta < 1) {
                list.add(new EtaCutoff(eta, MIN_TOKENS_TO_KEEP));
            }
            if (tfs >= 0 && tfs < 1) {
                list.add(new TailFree(tfs, MIN_TOKENS_TO_KEEP));
            }
            if (topA > 0 && topA <= 1) {
                list.add(new TopA(topA, MIN_TOKENS_TO_KEEP));
            }
            if (minP > 0 && minP <= 1) {
                list.add(new MinP(minP, MIN_TOKENS_TO_KEEP));
            }
        }
        if (temp != null && temperatureLast) {
            list.add(temp);
        }
        return list;
    }

    /** Reads typed values from a loosely typed map, naming the parameter in every error. */
    private record Reader(Map<String, ?> params) {

        private Object raw(String name) {
            Object v = params.get(name);
            return v != null ? v : Sampling.neutral().get(name);
        }

        double num(String name) {
            Object v = raw(name);
            if (v instanceof Number n) {
                return n.doubleValue();
            }
            if (v instanceof String s) {
                try {
                    return Double.parseDouble(s.strip());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("sampling parameter " + name + " = '" + s
                            + "' is not a number", e);
                }
            }
            throw new IllegalArgumentException("sampling parameter " + name + " must be a number, not "
                    + v.getClass().getSimpleName() + " '" + v + "'");
        }

        long longValue(String name) {
            Object v = raw(name);
            if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
                return ((Number) v).longValue();
            }
            if (v instanceof String s) {
                try {
                    return Long.parseLong(s.strip());
                } catch (NumberFormatException e) {
                    // maybe "40.0": checked as a number below
                }
            }
            double d = num(name);
            if (d != Math.rint(d) || Math.abs(d) > 9.007199254740992E15) {
                throw new IllegalArgumentException("sampling parameter " + name + " = " + d
                        + " must be a whole number");
            }
            return (long) d;
        }

        int integer(String name) {
            long l = longValue(name);
            if (l > Integer.MAX_VALUE || l < Integer.MIN_VALUE) {
                throw new IllegalArgumentException("sampling parameter " + name + " = " + l + " is too large");
            }
            return (int) l;
        }

        boolean flag(String name) {
            Object v = raw(name);
            if (v instanceof Boolean b) {
                return b;
            }
            if (v instanceof String s) {
                String t = s.strip().toLowerCase(java.util.Locale.ROOT);
                if (t.equals("true") || t.equals("false")) {
                    return t.equals("true");
                }
            }
            throw new IllegalArgumentException("sampling parameter " + name + " must be true or false, not '"
                    + v + "'");
        }
    }
}
