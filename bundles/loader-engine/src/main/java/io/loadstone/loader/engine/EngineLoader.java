package io.loadstone.loader.engine;

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
import io.loadstone.tokenizer.HfTokenizer;
import io.loadstone.tokenizer.TokenizerException;
import io.loadstone.tokenizer.TokenizerFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.osgi.service.component.annotations.Deactivate;

/**
 * What every loader that runs Hugging Face folders on the Java engine shares: reading the folder,
 * refusing models that need their own code, the text-generation-webui options the engine maps
 * ({@link EnginePlan}), the tokenizer, the loaded models ({@link EngineLoadedModel}: generation, logits,
 * LoRA) and closing them when the component goes away. A loader bundle subclasses it with its id,
 * its option list, its capabilities (sampler set, LoRA support), how it ranks a folder
 * ({@link #judge}) and what its own options do ({@link #configure}).
 *
 * <p>Subclass bundles set {@code -dsannotations-options: inherit} so that DS calls
 * {@link #deactivate()} on them.
 */
public abstract class EngineLoader implements ModelLoader {

    private static final System.Logger LOG = System.getLogger(EngineLoader.class.getName());

    private final TokenizerFactory tokenizers;
    private final String id;
    private final String description;
    private final List<OptionSpec> options;
    private final Capabilities capabilities;
    private final Set<EngineLoadedModel> models = ConcurrentHashMap.newKeySet();

    /**
     * @param options      the loader's options in display order, usually {@link EnginePlan#offer} of
     *                     {@code WebuiOptions} declarations
     * @param capabilities LoRA support, CFG, logits and the sampler set ({@link Samplers})
     */
    protected EngineLoader(TokenizerFactory tokenizers, String id, String description, List<OptionSpec> options,
            Capabilities capabilities) {
        this.tokenizers = tokenizers;
        this.id = id;
        this.description = description;
        this.options = List.copyOf(options);
        this.capabilities = capabilities;
    }

    /** Closes every model this loader opened: DS calls it when the tokenizer or the bundle goes away. */
    @Deactivate
    protected void deactivate() {
        for (EngineLoadedModel m : List.copyOf(models)) {
            m.close();
        }
    }

    @Override
    public final String id() {
        return id;
    }

    @Override
    public final String description() {
        return description;
    }

    @Override
    public final List<OptionSpec> options() {
        return options;
    }

    @Override
    public final Capabilities capabilities() {
        return capabilities;
    }

    /**
     * This loader's verdict on a readable folder of an architecture the engine runs and without
     * code of its own; usually {@link Ranking#rank} plus the loader's own limits.
     */
    protected abstract Detection judge(HfFolder f);

    /**
     * Applies this loader's own options to {@code plan} (the shared ones are applied already);
     * may refuse with a message naming the option.
     */
    protected void configure(EnginePlan plan) throws ModelLoadException {
    }

    @Override
    public final Detection detect(ModelSource source) {
        HfFolder f;
        try {
            f = HfFolder.read(source.path());
        } catch (HfFolder.NotHf e) {
            return Detection.no(e.getMessage());
        }
        Detection general = general(f);
        return general != null ? general : judge(f);
    }

    static final String REMOTE_CODE_REASON = "needs trust-remote-code: Loadstone never runs code from model repos";

    private static Detection general(HfFolder f) {
        if (f.remoteCode() != null) {
            return Detection.no(REMOTE_CODE_REASON);
        }
        if (!HfFolder.SUPPORTED.contains(f.modelType())) {
            return Detection.no("model_type '" + f.modelType() + "': the Java engine runs "
                    + String.join(", ", HfFolder.SUPPORTED.stream().sorted().toList()));
        }
        return null;
    }

    @Override
    public final LoadedModel load(ModelSource source, LoaderOptions given) throws ModelLoadException {
        HfFolder f;
        try {
            f = HfFolder.read(source.path());
        } catch (HfFolder.NotHf e) {
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "model", source.path() + ": " + e.getMessage() + ".", "Pick a Hugging Face model "
                    + "folder (config.json + *.safetensors or pytorch_model*.bin) or another loader.", null);
        }
        if (f.remoteCode() != null) {
            boolean trusted = given.bool("trust_remote_code");
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "config.json", source.path().resolve("config.json") + " maps the model to its own Python "
                    + "code (auto_map " + f.remoteCode() + ")" + (trusted ? "; trust_remote_code cannot allow it" : "")
                    + ": Loadstone never runs code from model repos.",
                    "Use a version of the model converted to a standard architecture (llama, mistral, qwen2) or GGUF.", null);
        }
        Detection d = general(f);
        d = d != null ? d : judge(f);
        if (!d.accepted()) {
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "model", source.path() + ": the " + id + " loader cannot load it: " + d.reason() + ".",
                    "Pick one of the loaders the model list offers for it.", null);
        }
        EnginePlan plan = EnginePlan.start(f, options, LoaderOptions.validate(options, given.asMap()));
        configure(plan);
        if (!Files.isRegularFile(source.path().resolve("tokenizer.json"))) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, "tokenizer.json", source.path().resolve("tokenizer.json") + " is missing: the " + id
                    + " loader needs the fast tokenizer file (tokenizer.model alone is not read).",
                    "Download tokenizer.json from the model's repository into " + source.path() + ".", null);
        }
        HfTokenizer tokenizer;
        try {
            tokenizer = tokenizers.open(source.path());
        } catch (TokenizerException e) {
            plan.discardView();
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, "tokenizer.json", e.getMessage(), "Download the tokenizer files of the model again.", e);
        }
        EngineModel engine;
        try {
            engine = EngineModel.open(plan.folderToOpen(), plan.engineOptions());
        } catch (ModelLoadException | RuntimeException e) {
            tokenizer.close();
            plan.discardView();
            throw e;
        }
        try {
            return loaded(source, f, plan, engine, tokenizer);
        } catch (RuntimeException e) {
            engine.close();
            tokenizer.close();
            plan.discardView();
            throw e;
        }
    }

    private EngineLoadedModel loaded(ModelSource source, HfFolder f, EnginePlan plan, EngineModel engine,
            HfTokenizer tokenizer) {
        ModelConfig c = engine.config();
        List<String> warnings = new ArrayList<>(plan.warnings());
        if (engine.placement().mapped() > 0) {
            warnings.add(plan.budgetOption() + ": " + engine.placement().describe() + ".");
        } else if (plan.engineOptions().memoryBudget() > 0 && !plan.budgetOption().equals("cpu_memory")) {
            // The budget was derived from a layer count; say so when the engine placed every layer anyway.
            warnings.add(plan.budgetOption() + ": every layer stays in memory: " + engine.placement().describe()
                    + ".");
        }
        if (tokenizer.vocabSize() > c.vocabSize()) {
            warnings.add("tokenizer.json has " + tokenizer.vocabSize() + " tokens but the model only "
                    + c.vocabSize() + ": ids past it are refused.");
        }
        Set<Integer> eos = new LinkedHashSet<>(tokenizer.eosIds());
        eos.addAll(c.eosTokenIds());
        Map<String, Object> effective = new LinkedHashMap<>(plan.effective());
        if (effective.containsKey(EnginePlan.MAX_SEQ_LEN)) {
            effective.put(EnginePlan.MAX_SEQ_LEN, (long) engine.maxContext());
        }
        String quant = f.quant().method().isEmpty() ? plan.describeQuantization() : f.quant().describe();
        String description = c.modelType() + " " + params(c.parameterCount()) + " " + c.weightType()
                + (quant.isEmpty() ? "" : " as " + quant) + " (" + f.format() + ")";
        if (plan.engineOptions().preallocateKv()) {
            long perPosition = 2L * c.numLayers() * c.numKvHeads() * c.headDim()
                    * switch (plan.engineOptions().kvCache()) {
                        case F32 -> 4;
                        case F16 -> 2;
                        case FP8 -> 1;
                    };
            int caches = plan.cfgRefusal() == null && capabilities.cfg() ? 2 : 1;
            description += String.format(java.util.Locale.ROOT, ", KV cache preallocated: %d positions, %.1f MiB%s",
                    engine.maxContext(), caches * perPosition * engine.maxContext() / 1048576.0,
                    caches == 2 ? " (two caches: CFG)" : "");
        }
        ModelInfo info = new ModelInfo(id, description, engine.maxContext(), c.maxPositionEmbeddings(),
                c.vocabSize(), tokenizer.chatTemplate().orElse(""), warnings, effective);
        Path view = plan.view();
        EngineLoadedModel m = new EngineLoadedModel(engine, tokenizer, info, eos, plan.cfgRefusal(),
                capabilities.logits(), plan.engineOptions().preallocateKv(), closed -> {
            models.remove(closed);
            if (view != null) {
                GptqFiles.delete(view);
            }
        });
        models.add(m);
        for (String w : warnings) {
            LOG.log(System.Logger.Level.INFO, source.name() + ": " + w);
        }
        return m;
    }

    /** "260K", "1.1B": the size as model cards write it. */
    public static String params(long n) {
        if (n >= 1_000_000_000L) {
            return String.format(java.util.Locale.ROOT, "%.1fB", n / 1e9);
        }
        if (n >= 1_000_000L) {
            return String.format(java.util.Locale.ROOT, "%.0fM", n / 1e6);
        }
        return String.format(java.util.Locale.ROOT, "%.0fK", n / 1e3);
    }
}
