package io.loadstone.loader.transformers;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.loader.engine.EngineLoader;
import io.loadstone.loader.engine.EnginePlan;
import io.loadstone.loader.engine.HfFolder;
import io.loadstone.loader.engine.Ranking;
import io.loadstone.loader.engine.Samplers;
import io.loadstone.tokenizer.TokenizerFactory;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * The "Transformers" loader: Hugging Face Llama-family checkpoints (config.json + safetensors, or
 * pytorch_model*.bin read without running their pickle) on Loadstone's pure-Java engine, tokenized by
 * the {@link TokenizerFactory} service. It loads GPTQ and AWQ folders too, as text-generation-webui's
 * ("This loader can also load GPTQ models"), behind the loaders made for them; EXL2 is left to the
 * ExLlamav2 loaders. When the tokenizer service goes away DS deactivates this component, which closes
 * every model.
 */
@Component(service = ModelLoader.class, property = ModelLoader.LOADER_ID + "=" + TransformersLoader.ID)
public class TransformersLoader extends EngineLoader {

    static final String ID = Ranking.TRANSFORMERS;

    @Activate
    public TransformersLoader(@Reference TokenizerFactory tokenizers) {
        // LoRA: several PEFT adapters at once, as text-generation-webui's Transformers does through PEFT.
        super(tokenizers, ID, "Transformers: Hugging Face llama/mistral/qwen2 safetensors or pytorch_model.bin "
                + "(also GPTQ and AWQ) on the pure-Java engine (CPU)", TransformersOptions.specs(),
                new Capabilities(Capabilities.LoraSupport.MULTI, true, true, Samplers.hf()));
    }

    @Override
    protected Detection judge(HfFolder f) {
        if (!f.quant().method().isEmpty()) {
            return Ranking.rank(ID, f);
        }
        if (f.format().equals(HfFolder.PT) || f.weightType().equals(HfFolder.PACKED)) {
            // An old GPTQ-for-LLaMa folder: packed weights, but no file says how they were packed.
            return Detection.no("packed GPTQ weights without a quantization config (an old GPTQ-for-LLaMa folder): "
                    + "use GPTQ-for-LLaMa or AutoGPTQ with wbits and groupsize");
        }
        return new Detection(Detection.PREFERRED, "Hugging Face " + f.modelType() + ", "
                + (f.format().equals(HfFolder.SAFETENSORS) ? f.weightType() + " safetensors"
                        : "pytorch_model.bin (tensor records only; its pickle code is never run)"));
    }

    @Override
    protected void configure(EnginePlan plan) throws ModelLoadException {
        TransformersOptions.configure(plan);
    }
}
