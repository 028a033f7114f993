package io.loadstone.loader.llamacpphf;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelInfo;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.gguf.GgufArray;
import io.loadstone.gguf.GgufException;
import io.loadstone.gguf.GgufFile;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaRuntime;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.llamacpp.SecondaryContext;
import io.loadstone.llamacpp.loading.AppliedLoras;
import io.loadstone.llamacpp.loading.Architectures;
import io.loadstone.llamacpp.loading.GgufSelection;
import io.loadstone.llamacpp.loading.LlamaCppOptions;
import io.loadstone.llamacpp.loading.NativeLoad;
import io.loadstone.sampling.SamplerSettings;
import io.loadstone.tokenizer.HfTokenizer;
import io.loadstone.tokenizer.TokenizerException;
import io.loadstone.tokenizer.TokenizerFactory;

/**
 * The "llamacpp_HF" loader, as text-generation-webui's: a GGUF file run by the
 * {@link LlamaRuntime} service, its logits read back and sampled by the Hugging Face sampler
 * stack (every sampler, classifier-free guidance with {@code cfg_cache}), tokenized by a Hugging
 * Face tokenizer from {@code tokenizer.json} next to the GGUF file or from a configured default
 * folder. Every GGUF file is validated by {@link GgufFile#read} before llama.cpp sees it. When
 * the runtime or the tokenizer service goes away DS deactivates this component, which closes
 * every model it loaded.
 */
@Component(service = ModelLoader.class, configurationPid = LlamaCppHfConfig.PID,
        property = ModelLoader.LOADER_ID + "=" + LlamaCppHfLoader.ID)
@Designate(ocd = LlamaCppHfConfig.class)
public class LlamaCppHfLoader implements ModelLoader {

    static final String ID = "llamacpp_HF";

    /** Framework property the default tokenizer folder is resolved against, as the core does for models/. */
    static final String HOME_PROPERTY = "loadstone.home";

    /**
     * Below the llama.cpp loader's {@link Detection#PREFERRED}, so that llama.cpp stays the default
     * for a GGUF file; a folder that brings its own tokenizer ranks above one that would borrow the
     * default tokenizer.
     */
    static final int SCORE_OWN_TOKENIZER = Detection.COMPATIBLE + 10;
    static final int SCORE_DEFAULT_TOKENIZER = Detection.COMPATIBLE - 10;

    private static final System.Logger LOG = System.getLogger(LlamaCppHfLoader.class.getName());

    private final LlamaRuntime runtime;
    private final TokenizerFactory tokenizers;
    private final List<OptionSpec> options;
    private final Set<LlamaCppHfModel> models = ConcurrentHashMap.newKeySet();
    private final TokenizerLookup lookup;
    /** Where PEFT LoRA adapters converted to GGUF are kept (see {@link AppliedLoras}); null: temporary files. */
    private final Path loraCache;

    /**
     * No {@code @Modified} on purpose: a new tokenizer.dir re-registers this loader, so the
     * runtime forgets the verdicts it cached for the old folder (models it had loaded are closed
     * and users told, as when a loader is updated).
     */
    @Activate
    public LlamaCppHfLoader(@Reference LlamaRuntime runtime, @Reference TokenizerFactory tokenizers,
            BundleContext context, LlamaCppHfConfig config) {
        this(runtime, tokenizers, home(context.getProperty(HOME_PROPERTY)), config.tokenizer_dir(),
                dataFile(context, "lora-gguf"));
    }

    /** Outside OSGi (tests): {@code tokenizerDir} relative to {@code home}; converted LoRAs in temporary files. */
    LlamaCppHfLoader(LlamaRuntime runtime, TokenizerFactory tokenizers, Path home, String tokenizerDir) {
        this(runtime, tokenizers, home, tokenizerDir, null);
    }

    /** Converted LoRAs go to {@code loraCache} (in OSGi this bundle's data area, never the user's loras folder). */
    LlamaCppHfLoader(LlamaRuntime runtime, TokenizerFactory tokenizers, Path home, String tokenizerDir,
            Path loraCache) {
        this.loraCache = loraCache;
        this.runtime = runtime;
        this.tokenizers = tokenizers;
        this.options = LlamaCppHfOptions.specs(runtime);
        this.lookup = lookup(home, tokenizerDir);
    }

    private static Path dataFile(BundleContext context, String name) {
        java.io.File f = context.getDataFile(name);
        return f == null ? null : f.toPath();
    }

    private static Path home(String property) {
        return property == null || property.isBlank() ? Paths.get("").toAbsolutePath()
                : Paths.get(property).toAbsolutePath().normalize();
    }

    private static TokenizerLookup lookup(Path home, String tokenizerDir) {
        String dir = tokenizerDir == null || tokenizerDir.isBlank() ? LlamaCppHfConfig.DEFAULT_TOKENIZER_DIR
                : tokenizerDir.strip();
        return new TokenizerLookup(home.resolve(dir).toAbsolutePath().normalize());
    }

    @Deactivate
    void deactivate() {
        for (LlamaCppHfModel m : List.copyOf(models)) {
            m.close();
        }
    }

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String description() {
        return "llamacpp_HF: GGUF models on llama.cpp (" + runtime.buildName() + ") with a Hugging Face tokenizer "
                + "and the Hugging Face samplers (CFG with cfg_cache)";
    }

    @Override
    public List<OptionSpec> options() {
        return options;
    }

    @Override
    public Capabilities capabilities() {
        // LoRA: several adapters at once, changed at run time, in the CFG context too (text-generation-webui's
        // llamacpp_HF has none).
        return new Capabilities(Capabilities.LoraSupport.MULTI, true, true, SamplerSettings.supportedParameters());
    }

    @Override
    public Detection detect(ModelSource source) {
        Optional<GgufSelection> sel;
        try {
            sel = GgufSelection.of(source);
        } catch (IOException e) {
            return Detection.no("cannot list " + source.path() + ": " + e.getMessage());
        }
        if (sel.isEmpty()) {
            return Detection.no("no .gguf file");
        }
        // The tokenizer first: looking for a file is cheaper than reading a GGUF header.
        Optional<TokenizerLookup.Found> found = lookup.find(sel.get().main());
        if (found.isEmpty()) {
            return Detection.no("no Hugging Face tokenizer: it needs tokenizer.json beside the GGUF (put both in "
                    + "a folder of their own under models/) or " + lookup.defaultFolder());
        }
        GgufFile gguf;
        try {
            gguf = GgufFile.read(sel.get().main());
        } catch (GgufException e) {
            return Detection.no("not a usable GGUF file: " + e.getMessage());
        }
        Optional<String> problem = Architectures.problem(gguf, runtime);
        if (problem.isPresent()) {
            return Detection.no(sel.get().main().getFileName() + ": " + problem.get());
        }
        String arch = gguf.architecture();
        String what = "GGUF v" + gguf.version() + ", architecture " + arch;
        return found.get().nextToModel()
                ? new Detection(SCORE_OWN_TOKENIZER, what + ", with tokenizer.json next to it")
                : new Detection(SCORE_DEFAULT_TOKENIZER, what + ", tokenizer from " + found.get().folder());
    }

    @Override
    public LoadedModel load(ModelSource source, LoaderOptions given) throws ModelLoadException {
        GgufSelection.Validated validated = GgufSelection.validated(source, runtime);
        GgufSelection sel = validated.selection();
        GgufFile gguf = validated.gguf();
        TokenizerLookup.Found where = lookup.require(sel.main());
        LlamaCppOptions.Plan plan = LlamaCppOptions.plan(options, given, gguf, runtime);
        boolean cfgCache = LoaderOptions.validate(options, given.asMap()).bool(LlamaCppHfOptions.CFG_CACHE);

        HfTokenizer tokenizer;
        try {
            tokenizer = tokenizers.open(where.folder());
        } catch (TokenizerException e) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, "tokenizer.json",
                    e.getMessage(), "Copy the tokenizer files of the model's original "
                    + "repository again (tokenizer.json, tokenizer_config.json).", e);
        }
        NativeModel nm = null;
        SecondaryContext cfg = null;
        try {
            // Refuse a tokenizer that would produce ids the model has no row for, before loading weights.
            OptionalVocab fileVocab = OptionalVocab.of(gguf);
            if (fileVocab.known() && tokenizer.vocabSize() > fileVocab.size()) {
                throw vocabMismatch(where, tokenizer.vocabSize(), sel.main(), fileVocab.size());
            }
            List<String> warnings = new ArrayList<>(plan.warnings());
            if (plan.numa() && runtime.enableNuma()) {
                warnings.add("numa: NUMA placement is now on for this whole process and stays on until it restarts.");
            }
            nm = NativeLoad.open(runtime, sel.main(), plan);
            if (tokenizer.vocabSize() > nm.nVocab()) {
                throw vocabMismatch(where, tokenizer.vocabSize(), sel.main(), nm.nVocab());
            }
            if (cfgCache) {
                try {
                    cfg = nm.newContext();
                } catch (LlamaException e) {
                    throw new ModelLoadException(ModelLoadException.Reason.TOO_LARGE, "n_ctx",
                            e.getMessage(), "Load without cfg_cache, or with a smaller n_ctx.",
                            e);
                }
            }
            warnings.addAll(NativeLoad.warnings(nm));
            if (!where.nextToModel()) {
                warnings.add("No tokenizer.json next to " + sel.main().getFileName() + ": using the default tokenizer "
                        + "in " + where.folder() + "; copy the model's own tokenizer files next to it if its "
                        + "vocabulary differs.");
            }
            // EOS: what the tokenizer (and generation_config.json) say, plus llama.cpp's end-of-generation
            // tokens from the GGUF file (EOT and friends), so either source ends a generation.
            Set<Integer> eos = new LinkedHashSet<>(tokenizer.eosIds());
            for (int t = 0; t < nm.nVocab(); t++) {
                if (nm.isEog(t)) {
                    eos.add(t);
                }
            }
            Map<String, Object> effective = new LinkedHashMap<>(plan.effective());
            effective.put(LlamaCppOptions.N_CTX, (long) nm.nCtx());
            String template = tokenizer.chatTemplate().or(gguf::chatTemplate).orElse("");
            String description = gguf.describe() + ", HF tokenizer " + (where.nextToModel() ? "next to it"
                    : "from " + where.folder().getFileName());
            ModelInfo info = new ModelInfo(ID, description, nm.nCtx(), nm.nCtxTrain(), nm.nVocab(), template,
                    warnings, effective);
            AppliedLoras loras = new AppliedLoras(nm, gguf, loraCache, cfg == null ? List.of() : List.of(cfg));
            LlamaCppHfModel m = new LlamaCppHfModel(nm, cfg, tokenizer, info, plan.seed(), eos, loras,
                    models::remove);
            models.add(m);
            for (String w : warnings) {
                LOG.log(System.Logger.Level.INFO, source.name() + ": " + w);
            }
            return m;
        } catch (ModelLoadException | RuntimeException e) {
            if (nm != null) {
                nm.close(); // frees cfg too
            }
            tokenizer.close();
            throw e;
        }
    }

    private static ModelLoadException vocabMismatch(TokenizerLookup.Found where, int tokenizerVocab, Path gguf,
            int modelVocab) {
        return new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, "tokenizer.json",
                "The tokenizer in " + where.folder() + " has " + tokenizerVocab
                + " tokens but the model " + gguf.getFileName() + " has only n_vocab=" + modelVocab
                + ": it is not this model's tokenizer.", where.nextToModel()
                        ? "Replace tokenizer.json and tokenizer_config.json next to the GGUF file with those of the "
                                + "model's original Hugging Face repository."
                        : "Copy the tokenizer files of the model's original Hugging Face repository next to the GGUF "
                                + "file, or use the llama.cpp loader.", null);
    }

    /** The vocabulary size the GGUF file declares (its token list), if it has one. */
    private record OptionalVocab(boolean known, int size) {
        static OptionalVocab of(GgufFile gguf) {
            Optional<GgufArray> tokens = gguf.array("tokenizer.ggml.tokens");
            return tokens.map(a -> new OptionalVocab(true, a.size())).orElse(new OptionalVocab(false, 0));
        }
    }
}
