package io.loadstone.loader.autogptq;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.loader.engine.EngineLoader;
import io.loadstone.loader.engine.EnginePlan;
import io.loadstone.loader.engine.GptqCheckpoint;
import io.loadstone.loader.engine.GptqFiles;
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
 * The "AutoGPTQ" loader: GPTQ checkpoints on the Java engine's packed GPTQ layers, found as
 * {@code AutoGPTQ_loader.py} finds them (the last *.safetensors, else *.pt, else *.bin), with the
 * Hugging Face sampler stack, CFG and logits. LoRA: several PEFT adapters at once (text-generation-webui
 * applies only the first with AutoGPTQ; the engine's LoRA path adds each adapter beside the packed
 * weights, so there is no such limit here).
 */
@Component(service = ModelLoader.class, property = ModelLoader.LOADER_ID + "=" + AutoGptqLoader.ID)
public class AutoGptqLoader extends EngineLoader {

    static final String ID = Ranking.AUTOGPTQ;

    /** text-generation-webui's AutoGPTQ options, in its order, and Loadstone's threads. */
    static final List<OptionSpec> OPTIONS = EnginePlan.offer(WebuiOptions.TRITON,
            WebuiOptions.NO_INJECT_FUSED_ATTENTION, WebuiOptions.NO_INJECT_FUSED_MLP, WebuiOptions.NO_USE_CUDA_FP16,
            WebuiOptions.WBITS, WebuiOptions.GROUPSIZE, WebuiOptions.DESC_ACT, WebuiOptions.DISABLE_EXLLAMA,
            WebuiOptions.GPU_MEMORY, WebuiOptions.CPU_MEMORY, WebuiOptions.CPU, WebuiOptions.DISK,
            WebuiOptions.AUTO_DEVICES, WebuiOptions.TRUST_REMOTE_CODE, WebuiOptions.NO_USE_FAST, WebuiOptions.THREADS);

    @Activate
    public AutoGptqLoader(@Reference TokenizerFactory tokenizers) {
        super(tokenizers, ID, "AutoGPTQ: GPTQ checkpoints (2/3/4/8-bit) on the pure-Java engine (CPU), HF samplers",
                OPTIONS, new Capabilities(Capabilities.LoraSupport.MULTI, true, true, Samplers.hf()));
    }

    @Override
    protected Detection judge(HfFolder f) {
        return Ranking.rank(ID, f);
    }

    @Override
    protected void configure(EnginePlan plan) throws ModelLoadException {
        // Old folders without quantize_config.json: BaseQuantizeConfig(bits = wbits or 4, group_size, desc_act).
        GptqCheckpoint.apply(plan, GptqFiles.autoGptq(plan.folder().folder()), ID, 4);
    }
}
