package io.loadstone.loader.exllama;

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
 * The "ExLlama" loader: 4-bit GPTQ checkpoints (other widths refused with the reason) with ExLlama (v1)'s
 * options and its own sampler subset (temperature, top_k, top_p, typical_p, repetition penalty and range,
 * seed, CFG through a second sequence as exllama's batch of two does); one LoRA at a time, as
 * text-generation-webui's ExLlama; no logits (webui: "use ExLlama_HF" for perplexity).
 */
@Component(service = ModelLoader.class, property = ModelLoader.LOADER_ID + "=" + ExLlamaLoader.ID)
public class ExLlamaLoader extends ExLlamaFamilyLoader {

    static final String ID = Ranking.EXLLAMA;

    /** text-generation-webui's ExLlama options, in its order, and Loadstone's threads. */
    static final List<OptionSpec> OPTIONS = EnginePlan.offer(WebuiOptions.GPU_SPLIT, WebuiOptions.MAX_SEQ_LEN,
            WebuiOptions.ALPHA_VALUE, WebuiOptions.ROPE_FREQ_BASE, WebuiOptions.COMPRESS_POS_EMB, WebuiOptions.THREADS);

    @Activate
    public ExLlamaLoader(@Reference TokenizerFactory tokenizers) {
        super(tokenizers, ID, "ExLlama: 4-bit GPTQ on the pure-Java engine (CPU), ExLlama's own samplers", OPTIONS,
                new Capabilities(Capabilities.LoraSupport.SINGLE, true, false, Samplers.EXLLAMA));
    }
}
