package io.loadstone.loader.exllamav2;

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
 * The "ExLlamav2" loader: EXL2 checkpoints and 4-bit GPTQ (other widths refused with the reason) with
 * ExLlamav2's options and its own sampler subset (temperature, top_k, top_p, min_p, typical_p, tfs, mirostat,
 * repetition penalty and range, seed; no CFG); several LoRAs at once, as exllamav2 allows; no logits
 * (webui: "use ExLlamav2_HF" for perplexity).
 */
@Component(service = ModelLoader.class, property = ModelLoader.LOADER_ID + "=" + ExLlamav2Loader.ID)
public class ExLlamav2Loader extends ExLlamaFamilyLoader {

    static final String ID = Ranking.EXLLAMAV2;

    /** text-generation-webui's ExLlamav2 options, in its order, and Loadstone's threads. */
    static final List<OptionSpec> OPTIONS = EnginePlan.offer(WebuiOptions.GPU_SPLIT, WebuiOptions.MAX_SEQ_LEN,
            WebuiOptions.NO_FLASH_ATTN, WebuiOptions.CACHE_8BIT, WebuiOptions.ALPHA_VALUE, WebuiOptions.COMPRESS_POS_EMB,
            WebuiOptions.THREADS);

    @Activate
    public ExLlamav2Loader(@Reference TokenizerFactory tokenizers) {
        super(tokenizers, ID, "ExLlamav2: EXL2 and 4-bit GPTQ on the pure-Java engine (CPU), ExLlamav2's own samplers", OPTIONS,
                new Capabilities(Capabilities.LoraSupport.MULTI, false, false, Samplers.EXLLAMAV2));
    }
}
