package io.loadstone.loader.ctransformers;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.gguf.GgufFile;
import io.loadstone.llamacpp.LlamaRuntime;
import io.loadstone.llamacpp.loading.LlamaCppOptions;

/**
 * text-generation-webui's ctransformers options ({@code modules/loaders.py}: n_ctx, n_gpu_layers,
 * n_batch, threads, model_type, no_mmap, mlock, in that order), plus Loadstone's cache_type. All
 * but model_type are the llama.cpp loader's options of the same name, taken from
 * {@link LlamaCppOptions} (same meaning, ranges and help) and planned by it; the llama.cpp options
 * ctransformers never had keep their defaults.
 */
final class CtransformersOptions {

    static final String MODEL_TYPE = "model_type";

    /** The llama.cpp options this loader shows, in webui's order; model_type goes after threads. */
    private static final List<String> SHARED = List.of(LlamaCppOptions.N_CTX, LlamaCppOptions.N_GPU_LAYERS,
            LlamaCppOptions.N_BATCH, LlamaCppOptions.THREADS, LlamaCppOptions.NO_MMAP, LlamaCppOptions.MLOCK,
            LlamaCppOptions.CACHE_TYPE);

    private CtransformersOptions() {
    }

    static List<OptionSpec> specs(List<OptionSpec> llamaCpp) {
        Map<String, OptionSpec> byName = new LinkedHashMap<>();
        llamaCpp.forEach(s -> byName.put(s.name(), s));
        List<OptionSpec> out = new ArrayList<>();
        for (String name : SHARED) {
            out.add(byName.get(name));
            if (name.equals(LlamaCppOptions.THREADS)) {
                out.add(OptionSpec.choice(MODEL_TYPE, ModelTypes.AUTO, ModelTypes.choices(), "The model family. "
                        + "None = read it from the GGUF file's general.architecture. Another value must agree "
                        + "with the file (dollyv2 is gptneox, gptbigcode is starcoder); a file of another family "
                        + "is refused."));
            }
        }
        return List.copyOf(out);
    }

    /** The llama.cpp plan for these options; its effective values are reduced to this loader's names. */
    static LlamaCppOptions.Plan plan(List<OptionSpec> specs, List<OptionSpec> llamaCpp, LoaderOptions given,
            GgufFile gguf, LlamaRuntime rt) throws ModelLoadException {
        LoaderOptions o = LoaderOptions.validate(specs, given.asMap());
        Map<String, Object> forLlamaCpp = new LinkedHashMap<>(o.asMap());
        forLlamaCpp.remove(MODEL_TYPE);
        LlamaCppOptions.Plan p = LlamaCppOptions.plan(llamaCpp, LoaderOptions.of(forLlamaCpp), gguf, rt);
        Map<String, Object> effective = new LinkedHashMap<>();
        for (OptionSpec s : specs) {
            effective.put(s.name(), p.effective().getOrDefault(s.name(), o.asMap().get(s.name())));
        }
        effective.put(MODEL_TYPE, o.text(MODEL_TYPE));
        return new LlamaCppOptions.Plan(p.model(), p.context(), false, p.seed(), p.warnings(), effective);
    }
}
