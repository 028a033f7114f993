package io.loadstone.loader.llamacpphf;

import java.util.ArrayList;
import java.util.List;

import io.loadstone.api.loader.OptionSpec;
import io.loadstone.llamacpp.LlamaRuntime;
import io.loadstone.llamacpp.loading.LlamaCppOptions;

/**
 * text-generation-webui's llamacpp_HF options: the llama.cpp loader's (same names, mapping and
 * warnings, from {@link LlamaCppOptions}) plus {@code cfg_cache}, {@code logits_all} and
 * {@code no_use_fast}. The last two are accepted for settings carried over from
 * text-generation-webui but change nothing here, and say why (setting one adds that reason
 * to the model's warnings, as for every option marked {@link OptionSpec#notApplicable}).
 */
final class LlamaCppHfOptions {

    static final String CFG_CACHE = "cfg_cache";
    static final String LOGITS_ALL = "logits_all";
    static final String NO_USE_FAST = "no_use_fast";

    private LlamaCppHfOptions() {
    }

    static List<OptionSpec> specs(LlamaRuntime rt) {
        List<OptionSpec> s = new ArrayList<>(LlamaCppOptions.specs(rt));
        s.add(OptionSpec.bool(CFG_CACHE, false, "Create a second llama.cpp context (KV cache) on the same weights for "
                + "the negative prompt, so that classifier-free guidance (negative prompt, guidance_scale) can be "
                + "used. Costs a second KV cache of n_ctx tokens; without it CFG requests are refused."));
        s.add(OptionSpec.bool(LOGITS_ALL, false, "Compute the logits of every prompt token (text-generation-webui "
                + "needs it for perplexity evaluation).")
                .notApplicable("generation reads only the last token's logits, and the logits of "
                        + "every position are computed whenever an evaluation (perplexity) asks for them"));
        s.add(OptionSpec.bool(NO_USE_FAST, false, "Use the slow (Python) tokenizer instead of the fast one.")
                .notApplicable("there is one tokenizer implementation, tokenizer.json through the "
                        + "Rust tokenizers library, i.e. transformers' fast tokenizer"));
        return List.copyOf(s);
    }
}
