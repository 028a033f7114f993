package io.loadstone.api.loader;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One generation.
 *
 * @param prompt        the text to continue (already formatted by any chat template)
 * @param maxNewTokens  upper bound on generated tokens
 * @param sampling      parameters by {@link Sampling} name; missing ones are neutral
 * @param stop          strings that end generation (not included in the output)
 * @param addBos        prepend BOS when the model uses one
 * @param banEos        keep generating past end-of-sequence
 * @param negativePrompt for CFG (with {@code guidance_scale}), or empty
 */
public record GenerationRequest(String prompt, int maxNewTokens, Map<String, Object> sampling, List<String> stop,
        boolean addBos, boolean banEos, String negativePrompt) {

    public GenerationRequest {
        Objects.requireNonNull(prompt, "prompt");
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("maxNewTokens < 0");
        }
        sampling = Map.copyOf(sampling);
        stop = List.copyOf(stop);
        negativePrompt = negativePrompt == null ? "" : negativePrompt;
    }

    /** Greedy decoding of {@code prompt}: the reproducible default for tests. */
    public static GenerationRequest greedy(String prompt, int maxNewTokens) {
        return new GenerationRequest(prompt, maxNewTokens, Map.of(Sampling.DO_SAMPLE, false), List.of(), true, false,
                "");
    }

    /** Value of a sampling parameter, or its neutral value. */
    public Object param(String name) {
        Object v = sampling.get(name);
        return v != null ? v : Sampling.neutral().get(name);
    }

    public double number(String name) {
        Object v = param(name);
        return v instanceof Number n ? n.doubleValue() : Double.parseDouble(String.valueOf(v));
    }

    public boolean flag(String name) {
        Object v = param(name);
        return v instanceof Boolean b ? b : Boolean.parseBoolean(String.valueOf(v));
    }

    /** Parameters that differ from neutral. */
    public Map<String, Object> setParameters() {
        Map<String, Object> out = new LinkedHashMap<>();
        sampling.forEach((k, v) -> {
            if (Sampling.isSet(k, v)) {
                out.put(k, v);
            }
        });
        return out;
    }

    /** True when sampling reduces to argmax. */
    public boolean isGreedy() {
        return !flag(Sampling.DO_SAMPLE) || number(Sampling.TEMPERATURE) <= 0 || number(Sampling.TOP_K) == 1;
    }
}
