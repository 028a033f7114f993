package io.loadstone.loader.gptqforllama;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.LoaderOptions;
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
 * The "GPTQ-for-LLaMa" loader: GPTQ checkpoints found as {@code GPTQ_loader.find_quantized_model_file}
 * finds them ({@code llama-13b-4bit-128g.safetensors} beside or inside the folder, {@code 4bit-128g.pt},
 * then the last *.pt or *.safetensors), old folders without a quantization config loaded with wbits and
 * groupsize (which the model list fills from names like {@code llama-13b-4bit-128g}); {@code pre_layer}
 * keeps that many layers in memory and leaves the rest memory-mapped from disk. Hugging Face samplers,
 * CFG, logits; several LoRAs (webui needed its monkey patch for one).
 */
@Component(service = ModelLoader.class, property = ModelLoader.LOADER_ID + "=" + GptqForLlamaLoader.ID)
public class GptqForLlamaLoader extends EngineLoader {

    static final String ID = Ranking.GPTQ_FOR_LLAMA;

    static final List<OptionSpec> OPTIONS = EnginePlan.offer(WebuiOptions.WBITS, WebuiOptions.GROUPSIZE,
            WebuiOptions.MODEL_TYPE, WebuiOptions.PRE_LAYER, WebuiOptions.NO_USE_FAST,
            WebuiOptions.THREADS);

    @Activate
    public GptqForLlamaLoader(@Reference TokenizerFactory tokenizers) {
        super(tokenizers, ID, "GPTQ-for-LLaMa: GPTQ checkpoints, old -4bit-128g folders too, on the pure-Java "
                + "engine (CPU), HF samplers", OPTIONS,
                new Capabilities(Capabilities.LoraSupport.MULTI, true, true, Samplers.hf()));
    }

    @Override
    protected Detection judge(HfFolder f) {
        return Ranking.rank(ID, f);
    }

    @Override
    protected void configure(EnginePlan plan) throws ModelLoadException {
        LoaderOptions o = plan.options();
        String type = o.text(WebuiOptions.MODEL_TYPE.name());
        if (type.equals("opt") || type.equals("gptj")) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "model_type", "model_type " + type + " is not available: the engine runs the Llama "
                    + "family only.", "Set model_type to None (from config.json) or llama.", null);
        }
        if (type.equals("llama") && !plan.folder().modelType().equals("llama")) {
            plan.warn("model_type llama: config.json says " + plan.folder().modelType() + ", which the engine runs "
                    + "as its own Llama-family architecture.");
        }
        int wbits = (int) o.integer(WebuiOptions.WBITS.name());
        int group = (int) o.integer(WebuiOptions.GROUPSIZE.name());
        if (plan.folder().quantized() != null) {
            wbits = (int) plan.folder().quant().bits();
            group = plan.folder().quant().groupSize();
        }
        int bits = GptqCheckpoint.apply(plan, GptqFiles.gptqForLlama(plan.folder().folder(), wbits, group), ID, 0);
        int preLayer = (int) o.integer(WebuiOptions.PRE_LAYER.name());
        if (preLayer > 0) {
            GptqCheckpoint.keepLayers(plan, preLayer, bits, WebuiOptions.PRE_LAYER.name());
        }
    }
}
