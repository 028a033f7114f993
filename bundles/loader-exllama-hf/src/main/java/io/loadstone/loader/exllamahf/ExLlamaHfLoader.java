package io.loadstone.loader.exllamahf;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.loader.engine.EnginePlan;
import io.loadstone.loader.engine.ExLlamaFamilyLoader;
import io.loadstone.loader.engine.Ranking;
import io.loadstone.loader.engine.Samplers;
import io.loadstone.loader.options.WebuiOptions;
import io.loadstone.tokenizer.TokenizerFactory;
import java.util.List;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * The "ExLlama_HF" loader: ExLlama's model code (4-bit GPTQ only) with the Hugging Face sampler stack,
 * logits for perplexity, CFG through a second cache when {@code cfg_cache} is on, one LoRA at a time.
 */
@Component(service = ModelLoader.class, property = ModelLoader.LOADER_ID + "=" + ExLlamaHfLoader.ID)
public class ExLlamaHfLoader extends ExLlamaFamilyLoader {

    static final String ID = Ranking.EXLLAMA_HF;

    /** text-generation-webui's ExLlama_HF options, in its order, and Loadstone's threads. */
    static final List<OptionSpec> OPTIONS = EnginePlan.offer(WebuiOptions.GPU_SPLIT, WebuiOptions.MAX_SEQ_LEN,
            WebuiOptions.ALPHA_VALUE, WebuiOptions.ROPE_FREQ_BASE, WebuiOptions.COMPRESS_POS_EMB, WebuiOptions.CFG_CACHE,
            WebuiOptions.NO_USE_FAST, WebuiOptions.THREADS);

    @Activate
    public ExLlamaHfLoader(@Reference TokenizerFactory tokenizers) {
        super(tokenizers, ID, "ExLlama_HF: 4-bit GPTQ on the pure-Java engine (CPU), HF samplers", OPTIONS,
                new Capabilities(Capabilities.LoraSupport.SINGLE, true, true, Samplers.hf()));
    }
}
