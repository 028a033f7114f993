package io.loadstone.loader.transformers;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelInfo;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.engine.EngineModel;
import io.loadstone.engine.ModelConfig;
import io.loadstone.sampling.SamplerSettings;
import io.loadstone.tokenizer.HfTokenizer;
import io.loadstone.tokenizer.TokenizerException;
import io.loadstone.tokenizer.TokenizerFactory;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;

/**
 * The "Transformers" loader: Hugging Face Llama-family checkpoints (config.json + safetensors, or
 * pytorch_model*.bin read without running their pickle) on Loadstone's pure-Java engine, tokenized by the {@link TokenizerFactory} service. Quantized
 * checkpoints and models that need their own Python code are left to other loaders, or refused.
 * When the tokenizer service goes away DS deactivates this component, which closes every model.
 */
@Component(service = ModelLoader.class, property = ModelLoader.LOADER_ID + "=" + TransformersLoader.ID)
public class TransformersLoader implements ModelLoader {

    static final String ID = "Transformers";

    static final String QUANTIZED_REASON = "GPTQ/AWQ/EXL2 checkpoint: use a GPTQ/AWQ/EXL2 loader";
    static final String REMOTE_CODE_REASON = "needs trust-remote-code: Loadstone never runs code from model repos";

    private static final System.Logger LOG = System.getLogger(TransformersLoader.class.getName());

    private final TokenizerFactory tokenizers;
    private final List<OptionSpec> options = TransformersOptions.specs();
    private final Set<TransformersModel> models = ConcurrentHashMap.newKeySet();

    @Activate
    public TransformersLoader(@Reference TokenizerFactory tokenizers) {
        this.tokenizers = tokenizers;
    }

    @Deactivate
    void deactivate() {
        for (TransformersModel m : List.copyOf(models)) {
            m.close();
        }
    }

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String description() {
        return "Transformers: Hugging Face llama/mistral/qwen2 safetensors or pytorch_model.bin on the pure-Java engine (CPU)";
    }

    @Override
    public List<OptionSpec> options() {
        return options;
    }

    @Override
    public Capabilities capabilities() {
        // LoRA: several PEFT adapters at once, as text-generation-webui's Transformers does through PEFT.
        return new Capabilities(Capabilities.LoraSupport.MULTI, true, true, SamplerSettings.supportedParameters());
    }

    @Override
    public Detection detect(ModelSource source) {
        HfFolder f;
        try {
            f = HfFolder.read(source.path());
        } catch (HfFolder.NotHf e) {
            return Detection.no(e.getMessage());
        }
        return judge(f);
    }

    private static Detection judge(HfFolder f) {
        if (f.quantized() != null) {
            return Detection.no(QUANTIZED_REASON + " (" + f.quantized() + ")");
        }
        if (f.remoteCode() != null) {
            return Detection.no(REMOTE_CODE_REASON);
        }
        if (!HfFolder.SUPPORTED.contains(f.modelType())) {
            return Detection.no("model_type '" + f.modelType() + "': the Java engine runs "
                    + String.join(", ", HfFolder.SUPPORTED.stream().sorted().toList()));
        }
        return new Detection(Detection.PREFERRED, "Hugging Face " + f.modelType() + ", " + (f.format().equals(HfFolder.SAFETENSORS)
                ? f.weightType() + " safetensors"
                : "pytorch_model.bin (tensor records only; its pickle code is never run)"));
    }

    @Override
    public LoadedModel load(ModelSource source, LoaderOptions given) throws ModelLoadException {
        HfFolder f;
        try {
            f = HfFolder.read(source.path());
        } catch (HfFolder.NotHf e) {
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "model", source.path() + ": "
                    + e.getMessage() + ".", "Pick a Hugging Face model folder (config.json + *.safetensors or pytorch_model*.bin) or another loader.", null);
        }
        if (f.remoteCode() != null) {
            boolean trusted = given.bool(TransformersOptions.TRUST_REMOTE_CODE);
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "config.json", source.path()
                    .resolve("config.json") + " maps the model to its own Python "
                    + "code (auto_map " + f.remoteCode() + ")" + (trusted ? "; trust_remote_code cannot allow it" : "")
                    + ": Loadstone never runs code from model repos.",
                    "Use a version of the model converted to a standard architecture (llama, mistral, qwen2) or GGUF.",
                    null);
        }
        if (f.quantized() != null) {
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "model", source.path()
                    + " is a quantized checkpoint (" + f.quantized() + ").",
                    "Use a GPTQ/AWQ/EXL2 loader for it, or an unquantized F32/F16/BF16 checkpoint here.", null);
        }
        Detection d = judge(f);
        if (!d.accepted()) {
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "model", source.path() + ": "
                    + d.reason() + ".", "Use a llama, mistral or qwen2 checkpoint, or another loader.", null);
        }
        TransformersOptions.Plan plan = TransformersOptions.plan(options, given, f);
        if (!Files.isRegularFile(source.path().resolve("tokenizer.json"))) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, "tokenizer.json", source.path()
                    .resolve("tokenizer.json") + " is missing: the Transformers loader needs the fast tokenizer file "
                    + "(tokenizer.model alone is not read).", "Download tokenizer.json from the model's repository "
                            + "into " + source.path() + ".", null);
        }
        HfTokenizer tokenizer;
        try {
            tokenizer = tokenizers.open(source.path());
        } catch (TokenizerException e) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, "tokenizer.json", e.getMessage(),
                    "Download the tokenizer files of the model again.", e);
        }
        EngineModel engine;
        try {
            engine = EngineModel.open(source.path(), plan.engine());
        } catch (ModelLoadException | RuntimeException e) {
            tokenizer.close();
            throw e;
        }
        try {
            ModelConfig c = engine.config();
            List<String> warnings = new ArrayList<>(plan.warnings());
            if (engine.placement().mapped() > 0) {
                warnings.add("cpu_memory: " + engine.placement().describe() + ".");
            }
            if (tokenizer.vocabSize() > c.vocabSize()) {
                warnings.add("tokenizer.json has " + tokenizer.vocabSize() + " tokens but the model only "
                        + c.vocabSize() + ": ids past it are refused.");
            }
            Set<Integer> eos = new LinkedHashSet<>(tokenizer.eosIds());
            eos.addAll(c.eosTokenIds());
            Map<String, Object> effective = new LinkedHashMap<>(plan.effective());
            effective.put(TransformersOptions.MAX_SEQ_LEN, (long) engine.maxContext());
            String description = c.modelType() + " " + params(c.parameterCount()) + " " + c.weightType()
                    + (plan.engine().quantization() == io.loadstone.engine.WeightQuantization.NONE ? ""
                            : " as " + plan.engine().quantization())
                    + " (" + f.format() + ")";
            ModelInfo info = new ModelInfo(ID, description, engine.maxContext(), c.maxPositionEmbeddings(),
                    c.vocabSize(), tokenizer.chatTemplate().orElse(""), warnings, effective);
            TransformersModel m = new TransformersModel(engine, tokenizer, info, eos, models::remove);
            models.add(m);
            for (String w : warnings) {
                LOG.log(System.Logger.Level.INFO, source.name() + ": " + w);
            }
            return m;
        } catch (RuntimeException e) {
            engine.close();
            tokenizer.close();
            throw e;
        }
    }

    /** "260K", "1.1B": the size as model cards write it. */
    static String params(long n) {
        if (n >= 1_000_000_000L) {
            return String.format(java.util.Locale.ROOT, "%.1fB", n / 1e9);
        }
        if (n >= 1_000_000L) {
            return String.format(java.util.Locale.ROOT, "%.0fM", n / 1e6);
        }
        return String.format(java.util.Locale.ROOT, "%.0fK", n / 1e3);
    }
}
