package io.loadstone.api.loader;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Generation parameters by their text-generation-webui names, with the defaults that
 * leave the distribution untouched. A parameter at its neutral value counts as unset, so
 * a loader that lacks a sampler only refuses requests that actually ask for it.
 */
public final class Sampling {

    public static final String TEMPERATURE = "temperature";
    public static final String TOP_K = "top_k";
    public static final String TOP_P = "top_p";
    public static final String MIN_P = "min_p";
    public static final String TYPICAL_P = "typical_p";
    public static final String TFS = "tfs";
    public static final String TOP_A = "top_a";
    public static final String EPSILON_CUTOFF = "epsilon_cutoff";
    public static final String ETA_CUTOFF = "eta_cutoff";
    public static final String REPETITION_PENALTY = "repetition_penalty";
    public static final String REPETITION_PENALTY_RANGE = "repetition_penalty_range";
    public static final String PRESENCE_PENALTY = "presence_penalty";
    public static final String FREQUENCY_PENALTY = "frequency_penalty";
    public static final String NO_REPEAT_NGRAM_SIZE = "no_repeat_ngram_size";
    public static final String MIROSTAT_MODE = "mirostat_mode";
    public static final String MIROSTAT_TAU = "mirostat_tau";
    public static final String MIROSTAT_ETA = "mirostat_eta";
    public static final String GUIDANCE_SCALE = "guidance_scale";
    public static final String TEMPERATURE_LAST = "temperature_last";
    public static final String DO_SAMPLE = "do_sample";
    public static final String SEED = "seed";

    private static final Map<String, Object> NEUTRAL;

    static {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(TEMPERATURE, 1.0);
        m.put(TOP_K, 0L);
        m.put(TOP_P, 1.0);
        m.put(MIN_P, 0.0);
        m.put(TYPICAL_P, 1.0);
        m.put(TFS, 1.0);
        m.put(TOP_A, 0.0);
        m.put(EPSILON_CUTOFF, 0.0);
        m.put(ETA_CUTOFF, 0.0);
        m.put(REPETITION_PENALTY, 1.0);
        m.put(REPETITION_PENALTY_RANGE, 1024L);
        m.put(PRESENCE_PENALTY, 0.0);
        m.put(FREQUENCY_PENALTY, 0.0);
        m.put(NO_REPEAT_NGRAM_SIZE, 0L);
        m.put(MIROSTAT_MODE, 0L);
        m.put(MIROSTAT_TAU, 5.0);
        m.put(MIROSTAT_ETA, 0.1);
        m.put(GUIDANCE_SCALE, 1.0);
        m.put(TEMPERATURE_LAST, false);
        m.put(DO_SAMPLE, true);
        m.put(SEED, -1L);
        NEUTRAL = Collections.unmodifiableMap(m);
    }

    private Sampling() {
    }

    /** Every known parameter with its neutral value. */
    public static Map<String, Object> neutral() {
        return NEUTRAL;
    }

    public static Set<String> all() {
        return NEUTRAL.keySet();
    }

    /** True when {@code value} differs from the neutral value of {@code name}. */
    public static boolean isSet(String name, Object value) {
        Object n = NEUTRAL.get(name);
        if (n == null || value == null) {
            return value != null;
        }
        if (n instanceof Number a && value instanceof Number b) {
            return Double.compare(a.doubleValue(), b.doubleValue()) != 0;
        }
        return !n.equals(value);
    }
}
