package io.loadstone.loader.ctransformers;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelInfo;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.api.loader.Sampling;
import io.loadstone.gguf.GgufException;
import io.loadstone.gguf.GgufFile;
import io.loadstone.gguf.GgufModelCheck;
import io.loadstone.llamacpp.LlamaRuntime;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.llamacpp.loading.Architectures;
import io.loadstone.llamacpp.loading.GgufSelection;
import io.loadstone.llamacpp.loading.LlamaCppOptions;
import io.loadstone.llamacpp.loading.NativeLoad;
import io.loadstone.llamacpp.loading.SamplerChainModel;

/**
 * The "ctransformers" loader, as text-generation-webui's: the GGUF models llama-cpp-python did
 * not run in 2023 (GPT-2, GPT-NeoX/Dolly, MPT, StarCoder/GPTBigCode, Falcon), here run by the
 * {@link LlamaRuntime} service, whose llama.cpp runs those families today. Its options and
 * samplers are ctransformers' ({@code model_type} included); it has no LoRA and no CFG, as in
 * webui. Files are chosen as webui did ({@code *.gguf}, then {@code *.bin}); legacy GGML files,
 * a {@code model_type} that contradicts the file and architectures the attached llama.cpp build
 * cannot run are all refused in Java, before native code sees the file.
 */
@Component(service = ModelLoader.class, property = ModelLoader.LOADER_ID + "=" + CtransformersLoader.ID)
public class CtransformersLoader implements ModelLoader {

    static final String ID = "ctransformers";

    /**
     * text-generation-webui's ctransformers samplers ({@code loaders_samplers}), plus do_sample: off
     * is greedy, which ctransformers did with temperature 0, and the shell and the API ask for
     * greedy text that way.
     */
    static final Set<String> SAMPLERS = Set.of(Sampling.TEMPERATURE, Sampling.TOP_K, Sampling.TOP_P,
            Sampling.REPETITION_PENALTY, Sampling.REPETITION_PENALTY_RANGE, Sampling.DO_SAMPLE);

    static final SamplerChainModel.Profile PROFILE = new SamplerChainModel.Profile(ID, SAMPLERS, "Clear the "
            + "negative prompt and set guidance_scale to 1, or load the model with the llamacpp_HF loader and "
            + "cfg_cache.");

    /** Above the llama.cpp loader's {@link Detection#PREFERRED}: these families are what ctransformers was for. */
    static final int SCORE_FAMILY = Detection.PREFERRED + 5;

    /** Below llama.cpp and llamacpp_HF: llama-family and other GGUF files stay theirs. */
    static final int SCORE_OTHER = Detection.COMPATIBLE - 20;

    private static final System.Logger LOG = System.getLogger(CtransformersLoader.class.getName());

    private final LlamaRuntime runtime;
    private final List<OptionSpec> llamaCppOptions;
    private final List<OptionSpec> options;
    private final Set<SamplerChainModel> models = ConcurrentHashMap.newKeySet();

    @Activate
    public CtransformersLoader(@Reference LlamaRuntime runtime) {
        this.runtime = runtime;
        this.llamaCppOptions = LlamaCppOptions.specs(runtime);
        this.options = CtransformersOptions.specs(llamaCppOptions);
    }

    @Deactivate
    void deactivate() {
        for (SamplerChainModel m : List.copyOf(models)) {
            m.close();
        }
    }

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String description() {
        return "ctransformers: GGUF models of GPT-2, GPT-NeoX, MPT, StarCoder and Falcon on llama.cpp ("
                + runtime.buildName() + ")";
    }

    @Override
    public List<OptionSpec> options() {
        return options;
    }

    @Override
    public Capabilities capabilities() {
        return new Capabilities(Capabilities.LoraSupport.NONE, false, true, SAMPLERS);
    }

    @Override
    public Detection detect(ModelSource source) {
        ModelFiles.Choice choice;
        try {
            choice = ModelFiles.choose(source);
        } catch (IOException e) {
            return Detection.no("cannot read " + source.path() + ": " + e.getMessage());
        }
        Path file;
        switch (choice) {
            case ModelFiles.None none -> {
                return Detection.no(none.reason());
            }
            case ModelFiles.LegacyGgml legacy -> {
                return Detection.no(legacy.reason() + ": " + ModelFiles.GGML_FIX);
            }
            case ModelFiles.Gguf g -> file = g.selection().main();
            case ModelFiles.GgufBin b -> file = b.file();
        }
        GgufFile gguf;
        try {
            gguf = GgufFile.read(file);
        } catch (GgufException e) {
            return Detection.no("not a usable GGUF file: " + e.getMessage());
        }
        Optional<String> problem = Architectures.problem(gguf, runtime);
        if (problem.isPresent()) {
            return Detection.no(file.getFileName() + ": " + problem.get());
        }
        String arch = gguf.architecture();
        String what = "GGUF v" + gguf.version() + ", architecture " + arch;
        if (source.isDirectory()) {
            what += ", file " + file.getFileName();
        }
        return ModelTypes.isCtransformersFamily(arch)
                ? new Detection(SCORE_FAMILY, what + " (model_type " + ModelTypes.namesFor(arch).orElseThrow() + ")")
                : new Detection(SCORE_OTHER, what + ": not a ctransformers family, the llama.cpp loader suits it "
                        + "better");
    }

    @Override
    public LoadedModel load(ModelSource source, LoaderOptions given) throws ModelLoadException {
        LoaderOptions checked = LoaderOptions.validate(options, given.asMap());
        ModelFiles.Choice choice;
        try {
            choice = ModelFiles.choose(source);
        } catch (IOException e) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, source.name(),
                    "Cannot read " + source.path() + ": " + e.getMessage(),
                    "Check that the path exists and is readable.", e);
        }
        Path file;
        GgufFile gguf;
        switch (choice) {
            case ModelFiles.None none -> throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED,
                    source.path().getFileName().toString(), "The ctransformers loader cannot load "
                    + source.path().getFileName() + ": " + none.reason() + ".", "Pick a .gguf file or a folder "
                            + "that holds one, or another loader.", null);
            case ModelFiles.LegacyGgml legacy -> throw legacy.refusal();
            case ModelFiles.Gguf g -> {
                GgufSelection.Validated v = GgufSelection.validated(source, runtime);
                file = v.selection().main();
                gguf = v.gguf();
            }
            case ModelFiles.GgufBin b -> {
                file = b.file();
                try {
                    gguf = GgufFile.read(file);
                    // A GGUF under a .bin name gets the same checks as any other before native code.
                    Architectures.require(gguf, file, runtime);
                    GgufModelCheck.check(gguf);
                } catch (GgufException e) {
                    throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, file.getFileName().toString(),
                            e.getMessage() + " (" + e.file() + ")", e.fix(), e);
                }
            }
        }
        String modelType = checked.text(CtransformersOptions.MODEL_TYPE);
        String arch = gguf.architecture();
        if (!modelType.equals(ModelTypes.AUTO) && !ModelTypes.architecture(modelType).equals(arch)) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, CtransformersOptions.MODEL_TYPE,
                    "model_type=" + modelType + " (llama.cpp architecture '"
                    + ModelTypes.architecture(modelType) + "') contradicts " + file.getFileName()
                    + ", whose general.architecture is '" + arch + "'.", "Set model_type to None to take the "
                            + "architecture from the file" + ModelTypes.namesFor(arch).map(n -> ", or to " + n)
                                    .orElse("") + ".", null);
        }
        Architectures.require(gguf, file, runtime);
        LlamaCppOptions.Plan plan = CtransformersOptions.plan(options, llamaCppOptions, given, gguf, runtime);
        List<String> warnings = new ArrayList<>(plan.warnings());
        NativeModel nm = NativeLoad.open(runtime, file, plan);
        try {
            warnings.addAll(NativeLoad.warnings(nm));
            Map<String, Object> effective = new LinkedHashMap<>(plan.effective());
            effective.put(LlamaCppOptions.N_CTX, (long) nm.nCtx());
            effective.put(CtransformersOptions.MODEL_TYPE, modelType.equals(ModelTypes.AUTO)
                    ? ModelTypes.namesFor(arch).orElse(arch) : modelType);
            ModelInfo info = new ModelInfo(ID, gguf.describe(), nm.nCtx(), nm.nCtxTrain(), nm.nVocab(),
                    gguf.chatTemplate().orElse(""), warnings, effective);
            SamplerChainModel m = new SamplerChainModel(nm, PROFILE, info, plan.seed(), null, models::remove);
            models.add(m);
            for (String w : warnings) {
                LOG.log(System.Logger.Level.INFO, source.name() + ": " + w);
            }
            return m;
        } catch (RuntimeException e) {
            nm.close();
            throw e;
        }
    }
}
