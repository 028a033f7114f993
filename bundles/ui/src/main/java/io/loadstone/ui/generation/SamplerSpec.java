package io.loadstone.ui.generation;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.loadstone.api.loader.Sampling;

/**
 * How a generation parameter is validated (API range) and shown (slider range, default,
 * help). Defaults are text-generation-webui's: a model whose loader has a sampler gets the
 * setting users know; loaders without it never see it (the page hides it).
 *
 * @param name    the {@link Sampling} name
 * @param type    "number", "integer" or "boolean"
 * @param min     smallest value the API accepts
 * @param max     largest value the API accepts
 * @param uiMin   slider start
 * @param uiMax   slider end
 * @param step    slider step
 * @param dflt    the page's default
 * @param help    one line for the page
 */
public record SamplerSpec(String name, String type, double min, double max, double uiMin, double uiMax,
        double step, Object dflt, String help) {

    public static final List<SamplerSpec> ALL = List.of(
            num(Sampling.TEMPERATURE, 0, 5, 0, 2, 0.01, 0.7, "Randomness. 0 = always the likeliest token; higher = "
                    + "more varied text."),
            num(Sampling.TOP_P, 0, 1, 0, 1, 0.01, 0.9, "Keep the smallest set of tokens whose probabilities add up "
                    + "to this. 1 = off."),
            integer(Sampling.TOP_K, 0, 1_000_000, 0, 200, 20, "Keep only the k likeliest tokens. 0 = off."),
            num(Sampling.MIN_P, 0, 1, 0, 1, 0.01, 0.0, "Drop tokens less likely than this fraction of the likeliest "
                    + "one. 0 = off."),
            num(Sampling.TYPICAL_P, 0, 1, 0, 1, 0.01, 1.0, "Locally typical sampling. 1 = off."),
            num(Sampling.TFS, 0, 1, 0, 1, 0.01, 1.0, "Tail-free sampling. 1 = off."),
            num(Sampling.TOP_A, 0, 1, 0, 1, 0.01, 0.0, "Drop tokens below top_a × (top probability)². 0 = off."),
            num(Sampling.EPSILON_CUTOFF, 0, 9, 0, 9, 0.01, 0.0, "Drop tokens below this probability (×1e-4). "
                    + "0 = off."),
            num(Sampling.ETA_CUTOFF, 0, 20, 0, 20, 0.01, 0.0, "Eta sampling (×1e-4). 0 = off."),
            num(Sampling.REPETITION_PENALTY, 0, 10, 1, 1.5, 0.01, 1.15, "Penalise tokens that already appeared. "
                    + "1 = off."),
            integer(Sampling.REPETITION_PENALTY_RANGE, 0, 1_000_000, 0, 4096, 1024, "How many recent tokens the "
                    + "repetition penalty looks at. 0 = all."),
            num(Sampling.PRESENCE_PENALTY, -2, 2, -2, 2, 0.05, 0.0, "Penalty for any token that appeared. 0 = off."),
            num(Sampling.FREQUENCY_PENALTY, -2, 2, -2, 2, 0.05, 0.0, "Penalty growing with how often a token "
                    + "appeared. 0 = off."),
            integer(Sampling.NO_REPEAT_NGRAM_SIZE, 0, 100, 0, 20, 0, "Never repeat an n-gram of this length. "
                    + "0 = off."),
            integer(Sampling.MIROSTAT_MODE, 0, 2, 0, 2, 0, "Mirostat: 0 = off, 1 = v1, 2 = v2. Replaces the other "
                    + "samplers."),
            num(Sampling.MIROSTAT_TAU, 0, 20, 0, 10, 0.01, 5.0, "Mirostat target surprise."),
            num(Sampling.MIROSTAT_ETA, 0, 1, 0, 1, 0.01, 0.1, "Mirostat learning rate."),
            num(Sampling.GUIDANCE_SCALE, -5, 5, -0.5, 2.5, 0.05, 1.0, "Classifier-free guidance with the negative "
                    + "prompt. 1 = off; 1.5 is a good value."),
            bool(Sampling.TEMPERATURE_LAST, false, "Apply temperature after the other samplers."),
            bool(Sampling.DO_SAMPLE, true, "Off = greedy decoding (always the likeliest token)."));

    private static final Map<String, SamplerSpec> BY_NAME = new LinkedHashMap<>();

    static {
        for (SamplerSpec s : ALL) {
            BY_NAME.put(s.name, s);
        }
    }

    public static SamplerSpec get(String name) {
        return BY_NAME.get(name);
    }

    private static SamplerSpec num(String name, double min, double max, double uiMin, double uiMax, double step,
            double dflt, String help) {
        return new SamplerSpec(name, "number", min, max, uiMin, uiMax, step, dflt, help);
    }

    private static SamplerSpec integer(String name, long min, long max, long uiMin, long uiMax, long dflt,
            String help) {
        return new SamplerSpec(name, "integer", min, max, uiMin, uiMax, 1, dflt, help);
    }

    private static SamplerSpec bool(String name, boolean dflt, String help) {
        return new SamplerSpec(name, "boolean", 0, 1, 0, 1, 1, dflt, help);
    }
}
