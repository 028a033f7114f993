package io.loadstone.loader.llamacpp;

import io.loadstone.llamacpp.loading.AppliedLoras;
import io.loadstone.llamacpp.loading.Architectures;
import io.loadstone.llamacpp.loading.GgufSelection;
import io.loadstone.llamacpp.loading.LlamaCppOptions;
import io.loadstone.llamacpp.loading.NativeLoad;
import io.loadstone.llamacpp.loading.SamplerChainModel;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
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
import io.loadstone.llamacpp.LlamaRuntime;
import io.loadstone.llamacpp.NativeModel;

/**
 * The "llama.cpp" loader: GGUF files run by the {@link LlamaRuntime} service. Every file is
 * read and validated by {@link GgufFile#read} before llama.cpp sees it, so a truncated or
 * corrupt download fails with a message naming the file instead of reaching native code.
 * When the runtime goes away (bundle stopped or updated) DS deactivates this component,
 * which closes every model it loaded.
 */
@Component(service = ModelLoader.class, property = ModelLoader.LOADER_ID + "=" + LlamaCppLoader.ID)
public class LlamaCppLoader implements ModelLoader {

    static final String ID = "llama.cpp";

    private static final System.Logger LOG = System.getLogger(LlamaCppLoader.class.getName());

    private final LlamaRuntime runtime;
    private final List<OptionSpec> options;
    /** The sampler names this loader honours (text-generation-webui's llama.cpp list, minus tfs). */
    static final Set<String> SAMPLERS = Set.of(Sampling.TEMPERATURE, Sampling.TOP_K, Sampling.TOP_P, Sampling.MIN_P,
            Sampling.TYPICAL_P, Sampling.REPETITION_PENALTY, Sampling.PRESENCE_PENALTY, Sampling.FREQUENCY_PENALTY,
            Sampling.REPETITION_PENALTY_RANGE, Sampling.MIROSTAT_MODE, Sampling.MIROSTAT_TAU, Sampling.MIROSTAT_ETA,
            Sampling.SEED, Sampling.DO_SAMPLE);

    static final SamplerChainModel.Profile PROFILE = new SamplerChainModel.Profile(ID, SAMPLERS, "Clear the "
            + "negative prompt and set guidance_scale to 1, or load the model with the llamacpp_HF loader and "
            + "cfg_cache (or a Hugging Face folder with the Transformers loader).");

    private final Set<SamplerChainModel> models = ConcurrentHashMap.newKeySet();
    /** Where PEFT LoRA adapters converted to GGUF are kept (see {@link AppliedLoras}); null: temporary files. */
    private final Path loraCache;

    /** In OSGi: converted LoRAs go to this bundle's data area, never into the user's loras folder. */
    @Activate
    public LlamaCppLoader(@Reference LlamaRuntime runtime, BundleContext context) {
        this(runtime, dataFile(context, "lora-gguf"));
    }

    /** Outside OSGi (tests, benchmarks): converted LoRAs go to temporary files. */
    public LlamaCppLoader(LlamaRuntime runtime) {
        this(runtime, (Path) null);
    }

    LlamaCppLoader(LlamaRuntime runtime, Path loraCache) {
        this.runtime = runtime;
        this.options = LlamaCppOptions.specs(runtime);
        this.loraCache = loraCache;
    }

    private static Path dataFile(BundleContext context, String name) {
        java.io.File f = context.getDataFile(name);
        return f == null ? null : f.toPath();
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
        return "llama.cpp: GGUF models on " + (runtime.supportsGpuOffload() ? "CPU and GPU" : "the CPU") + " ("
                + runtime.buildName() + ")";
    }

    @Override
    public List<OptionSpec> options() {
        return options;
    }

    @Override
    public Capabilities capabilities() {
        // LoRA: several adapters at once, each with its own scale, changed at run time without a
        // reload (text-generation-webui's llama.cpp loader has none).
        return new Capabilities(Capabilities.LoraSupport.MULTI, false, true, SAMPLERS);
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
        GgufSelection s = sel.get();
        try {
            GgufFile gguf = GgufFile.read(s.main());
            Optional<String> problem = Architectures.problem(gguf, runtime);
            if (problem.isPresent()) {
                return Detection.no(s.main().getFileName() + ": " + problem.get());
            }
            String arch = gguf.architecture();
            StringBuilder reason = new StringBuilder("GGUF v").append(gguf.version()).append(", architecture ")
                    .append(arch);
            if (s.parts().size() > 1) {
                reason.append(", ").append(s.parts().size()).append(" parts");
            }
            if (source.isDirectory()) {
                reason.append(", file ").append(s.main().getFileName());
                if (!s.others().isEmpty()) {
                    reason.append(" (").append(s.others().size()).append(" other GGUF file(s) in the folder)");
                }
            }
            return new Detection(Detection.PREFERRED, reason.toString());
        } catch (GgufException e) {
            return Detection.no("not a usable GGUF file: " + e.getMessage());
        }
    }

    @Override
    public LoadedModel load(ModelSource source, LoaderOptions given) throws ModelLoadException {
        GgufSelection.Validated validated = GgufSelection.validated(source, runtime);
        GgufSelection sel = validated.selection();
        GgufFile gguf = validated.gguf();
        LlamaCppOptions.Plan plan = LlamaCppOptions.plan(options, given, gguf, runtime);
        List<String> warnings = new ArrayList<>(plan.warnings());
        if (plan.numa()) {
            if (runtime.enableNuma()) {
                warnings.add("numa: NUMA placement is now on for this whole process and stays on until it restarts.");
            }
        }
        NativeModel nm = NativeLoad.open(runtime, sel.main(), plan);
        try {
            warnings.addAll(NativeLoad.warnings(nm));
            Map<String, Object> effective = new LinkedHashMap<>(plan.effective());
            effective.put(LlamaCppOptions.N_CTX, (long) nm.nCtx());
            String template = gguf.chatTemplate().orElse("");
            ModelInfo info = new ModelInfo(ID, gguf.describe(), nm.nCtx(), nm.nCtxTrain(), nm.nVocab(), template,
                    warnings, effective);
            SamplerChainModel m = new SamplerChainModel(nm, PROFILE, info, plan.seed(), new AppliedLoras(nm, gguf,
                    loraCache, List.of()), models::remove);
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
