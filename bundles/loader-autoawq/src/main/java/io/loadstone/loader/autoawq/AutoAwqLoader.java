package io.loadstone.loader.autoawq;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.loader.engine.EngineLoader;
import io.loadstone.loader.engine.EnginePlan;
import io.loadstone.loader.engine.HfFolder;
import io.loadstone.loader.engine.Ranking;
import io.loadstone.loader.engine.Samplers;
import io.loadstone.loader.options.WebuiOptions;
import io.loadstone.tokenizer.TokenizerFactory;
import java.util.List;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * The "AutoAWQ" loader: AWQ checkpoints (GEMM and GEMV packing, 4-bit) on the engine's packed AWQ layers,
 * detected from quant_config.json or config.json quantization_config; Hugging Face samplers, CFG, logits,
 * and several PEFT LoRAs at once (text-generation-webui lists LoRA with AutoAWQ as unknown; the engine adds
 * adapters beside the packed weights).
 */
@Component(service = ModelLoader.class, property = ModelLoader.LOADER_ID + "=" + AutoAwqLoader.ID)
public class AutoAwqLoader extends EngineLoader {

    static final String ID = Ranking.AUTOAWQ;

    /** text-generation-webui's AutoAWQ options, in its order, and Loadstone's threads. */
    static final List<OptionSpec> OPTIONS = EnginePlan.offer(WebuiOptions.CPU_MEMORY, WebuiOptions.GPU_MEMORY,
            WebuiOptions.AUTO_DEVICES, WebuiOptions.MAX_SEQ_LEN, WebuiOptions.NO_INJECT_FUSED_ATTENTION,
            WebuiOptions.TRUST_REMOTE_CODE, WebuiOptions.NO_USE_FAST, WebuiOptions.THREADS);

    @Activate
    public AutoAwqLoader(@Reference TokenizerFactory tokenizers) {
        super(tokenizers, ID, "AutoAWQ: AWQ checkpoints (GEMM/GEMV, 4-bit) on the pure-Java engine (CPU), HF samplers",
                OPTIONS, new Capabilities(Capabilities.LoraSupport.MULTI, true, true, Samplers.hf()));
    }

    @Override
    protected Detection judge(HfFolder f) {
        return Ranking.rank(ID, f);
    }
}
