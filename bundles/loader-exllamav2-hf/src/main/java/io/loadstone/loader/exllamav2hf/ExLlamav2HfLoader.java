package io.loadstone.loader.exllamav2hf;

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
 * The "ExLlamav2_HF" loader: ExLlamav2's model code (EXL2, 4-bit GPTQ) with the Hugging Face sampler
 * stack, logits for perplexity, CFG through a second cache when {@code cfg_cache} is on, several LoRAs.
 */
@Component(service = ModelLoader.class, property = ModelLoader.LOADER_ID + "=" + ExLlamav2HfLoader.ID)
public class ExLlamav2HfLoader extends ExLlamaFamilyLoader {

    static final String ID = Ranking.EXLLAMAV2_HF;

    /** text-generation-webui's ExLlamav2_HF options, in its order, and Loadstone's threads. */
    static final List<OptionSpec> OPTIONS = EnginePlan.offer(WebuiOptions.GPU_SPLIT, WebuiOptions.MAX_SEQ_LEN,
            WebuiOptions.CFG_CACHE, WebuiOptions.NO_FLASH_ATTN, WebuiOptions.CACHE_8BIT, WebuiOptions.ALPHA_VALUE,
            WebuiOptions.COMPRESS_POS_EMB, WebuiOptions.NO_USE_FAST, WebuiOptions.THREADS);

    @Activate
    public ExLlamav2HfLoader(@Reference TokenizerFactory tokenizers) {
        super(tokenizers, ID, "ExLlamav2_HF: EXL2 and 4-bit GPTQ on the pure-Java engine (CPU), HF samplers", OPTIONS,
                new Capabilities(Capabilities.LoraSupport.MULTI, true, true, Samplers.hf()));
    }
}
