package io.loadstone.loader.engine;

import io.loadstone.api.loader.Sampling;
import io.loadstone.sampling.SamplerSettings;
import java.util.Set;

/**
 * The sampler sets of text-generation-webui's loaders ({@code modules/loaders.py} {@code loaders_samplers},
 * late-2023), as {@link Sampling} names. Every engine loader samples with the Hugging Face stack; a native
 * loader's set is the subset its library implements, so requests that set anything else are refused as
 * they would be by that library, not silently honoured.
 */
public final class Samplers {

    private Samplers() {
    }

    /** Transformers, AutoGPTQ, GPTQ-for-LLaMa, AutoAWQ and the _HF wrappers: the whole stack. */
    public static Set<String> hf() {
        return SamplerSettings.supportedParameters();
    }

    /**
     * ExLlama (v1)'s own generator: temperature, top_k, top_p, typical_p, repetition penalty and range, seed,
     * CFG. do_sample=false (greedy) is in every set, as for the llama.cpp loader: the native libraries decode
     * greedily with top_k 1, which is the same choice.
     */
    public static final Set<String> EXLLAMA = Set.of(Sampling.DO_SAMPLE, Sampling.TEMPERATURE, Sampling.TOP_K, Sampling.TOP_P,
            Sampling.TYPICAL_P, Sampling.REPETITION_PENALTY, Sampling.REPETITION_PENALTY_RANGE, Sampling.SEED,
            Sampling.GUIDANCE_SCALE);

    /** ExLlamav2's own sampler: no CFG; adds min_p, tfs and mirostat. */
    public static final Set<String> EXLLAMAV2 = Set.of(Sampling.DO_SAMPLE, Sampling.TEMPERATURE, Sampling.TOP_K, Sampling.TOP_P,
            Sampling.MIN_P, Sampling.TYPICAL_P, Sampling.TFS, Sampling.MIROSTAT_MODE, Sampling.MIROSTAT_TAU,
            Sampling.MIROSTAT_ETA, Sampling.REPETITION_PENALTY, Sampling.REPETITION_PENALTY_RANGE, Sampling.SEED);
}
