package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.loadstone.testsupport.Logits;
import io.loadstone.testsupport.References;
import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.LogitsAccess;
import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.Sampling;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelEntry;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.api.runtime.ModelSettings;
import io.loadstone.evaluation.EvaluationRequest;
import io.loadstone.evaluation.EvaluationResult;
import io.loadstone.evaluation.PerplexityEvaluator;
import io.loadstone.evaluation.PerplexityMethod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The quantized-model loaders (AutoGPTQ, GPTQ-for-LLaMa, ExLlama, ExLlama_HF, AutoAWQ, ExLlamav2,
 * ExLlamav2_HF, and Transformers on GPTQ/AWQ) in a running framework, against the shared fixtures'
 * {@code reference.json} (logits and greedy ids computed by GPTQModel / AutoAWQ / reference GPTQ code):
 * detection order, every logits loader's logits and every loader's greedy text, options filled from
 * the files or refused, an old GPTQ-for-LLaMa folder, LoRA on a GPTQ base, CFG and perplexity.
 */
class QuantLoadersTest {

    private static final System.Logger LOG = System.getLogger(QuantLoadersTest.class.getName());
    private static final Duration WAIT = Duration.ofSeconds(30);

    /**
     * The references dequantize {@code scale × (q − zero)} in fp16 as the GPU kernels do; the fixtures'
     * READMEs measure 0.0145 (GPTQ) for the same product kept in fp32. Every measured maximum is logged.
     */
    static final double TOLERANCE = 0.02;

    static final String GPTQ4 = "stories260K-gptq-4bit-32g-actorder";
    static final String GPTQ4_SYM = "stories260K-gptq-4bit-64g-sym";
    static final String GPTQ8 = "stories260K-gptq-8bit-32g-sym";
    static final String TINY_GPTQ = "tiny-llama-gptq-4bit-32g-actorder";
    static final String AWQ64 = "stories260K-awq-4bit-64g-gemm";
    static final String AWQ32 = "stories260K-awq-4bit-32g-gemm";
    static final String AWQ_GEMV = "stories260K-awq-4bit-64g-gemv";
    static final List<String> FIXTURES = List.of(GPTQ4, GPTQ4_SYM, GPTQ8, TINY_GPTQ, AWQ64, AWQ32, AWQ_GEMV);
    static final List<String> LOADERS = List.of("AutoGPTQ", "GPTQ-for-LLaMa", "ExLlama", "ExLlama_HF", "AutoAWQ",
            "ExLlamav2", "ExLlamav2_HF", "Transformers");

    private static final Map<String, Object> THREADS = Map.of("threads", 2);

    private ModelManager manager;
    private Path models;
    private Path shared;

    @BeforeEach
    void setUp() throws Exception {
        String s = Framework.context().getProperty("loadstone.shared.models");
        assumeTrue(s != null && Files.isDirectory(Path.of(s, GPTQ4)), "shared models absent: " + s);
        shared = Path.of(s);
        models = Framework.workDir("quant-models");
        for (String name : FIXTURES) {
            copy(shared.resolve(name), models.resolve(name));
        }
        manager = Framework.useModels(models, "max.loaded.models", 2);
        Framework.await("the quantized-model loaders", WAIT, () -> LOADERS.stream().allMatch(this::hasLoader));
        Framework.await("all models listed", WAIT, () -> manager.models().size() == FIXTURES.size());
    }

    @AfterEach
    void tearDown() {
        if (manager != null) {
            manager.loaded().forEach(st -> manager.unload(st.name()));
        }
    }

    private static void copy(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) {
                if (!Files.exists(to.resolve(f.getFileName()))) {
                    Files.copy(f, to.resolve(f.getFileName()));
                }
            }
        }
    }

    private boolean hasLoader(String id) {
        return manager.loaders().stream().map(LoaderInfo::id).anyMatch(id::equals);
    }

    private LoadedModel load(String loaderId, String model, Map<String, Object> options) throws Exception {
        ModelLoader l = Framework.loader(loaderId);
        return l.load(ModelSource.of(models.resolve(model)), LoaderOptions.validate(l.options(), options));
    }

    private JsonObject reference(String model) throws Exception {
        return References.read(shared.resolve(model).resolve("reference.json"));
    }

    // ---- detection ---------------------------------------------------------------------------------------

    private List<String> candidates(String model) {
        ModelEntry e = manager.models().stream().filter(m -> m.name().equals(model)).findFirst().orElseThrow();
        return e.candidates().stream().map(ModelEntry.Candidate::loaderId).toList();
    }

    @Test
    void detectionRanksTheGptqLoadersThenExLlamav2ThenTransformers() {
        List<String> gptq4 = List.of("ExLlama_HF", "AutoGPTQ", "ExLlama", "GPTQ-for-LLaMa", "ExLlamav2_HF",
                "ExLlamav2", "Transformers");
        assertEquals(gptq4, candidates(GPTQ4));
        assertEquals(gptq4, candidates(TINY_GPTQ));
        // ExLlama and ExLlamav2 run 4-bit GPTQ only.
        assertEquals(List.of("AutoGPTQ", "GPTQ-for-LLaMa", "Transformers"), candidates(GPTQ8));
        assertEquals(List.of("AutoAWQ", "Transformers"), candidates(AWQ64));
        assertEquals(List.of("AutoAWQ", "Transformers"), candidates(AWQ_GEMV));
    }

    // ---- reference logits and greedy ids -----------------------------------------------------------------

    static Stream<Arguments> logitLoaders() {
        List<Arguments> out = new ArrayList<>();
        for (String m : List.of(GPTQ4, GPTQ4_SYM)) {
            for (String l : List.of("AutoGPTQ", "GPTQ-for-LLaMa", "ExLlama_HF", "ExLlamav2_HF", "Transformers")) {
                out.add(Arguments.of(l, m));
            }
        }
        for (String l : List.of("AutoGPTQ", "GPTQ-for-LLaMa", "Transformers")) {
            out.add(Arguments.of(l, GPTQ8));
        }
        for (String m : List.of(AWQ64, AWQ32, AWQ_GEMV)) {
            for (String l : List.of("AutoAWQ", "Transformers")) {
                out.add(Arguments.of(l, m));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("logitLoaders")
    void logitsAndGreedyIdsReproduceTheReference(String loaderId, String model) throws Exception {
        JsonObject ref = reference(model);
        double worst = 0;
        try (LoadedModel m = load(loaderId, model, THREADS)) {
            LogitsAccess logits = m.logits().orElseThrow();
            for (JsonElement pe : ref.getAsJsonArray("prompts")) {
                JsonObject p = pe.getAsJsonObject();
                int[] ids = References.ints(p.getAsJsonArray("input_ids"));
                assertArrayEquals(ids, m.tokenize(p.get("prompt").getAsString(), true), "tokens of the prompt");
                float[][] all = logits.evaluate(ids, true);
                JsonArray refAll = p.getAsJsonArray("all_logits");
                for (int pos = 0; pos < ids.length; pos++) {
                    worst = Math.max(worst, Logits.maxAbsDiff(References.floats(refAll.get(pos).getAsJsonArray()), all[pos]));
                }
                // Greedy ids exactly: argmax, the whole sequence evaluated again each time, as the reference.
                int[] greedy = References.ints(p.getAsJsonArray("greedy_ids"));
                int[] seq = java.util.Arrays.copyOf(ids, ids.length + greedy.length);
                for (int i = 0; i < greedy.length; i++) {
                    int[] prefix = java.util.Arrays.copyOf(seq, ids.length + i);
                    seq[ids.length + i] = Logits.argmax(logits.evaluate(prefix, false)[0]);
                }
                assertArrayEquals(greedy, java.util.Arrays.copyOfRange(seq, ids.length, seq.length),
                        loaderId + " greedy ids for '" + p.get("prompt").getAsString() + "'");
                assertGreedyText(m, p);
            }
        }
        String line = String.format(java.util.Locale.ROOT, "%s on %s: max |logit - reference| over all positions "
                + "of 3 prompts %.3g", loaderId, model, worst);
        LOG.log(System.Logger.Level.INFO, line);
        System.out.println(line);
        assertTrue(worst < TOLERANCE, line);
    }

    /** Generation (streamed, the loader's own sampler path) continues the prompt as the reference's greedy text. */
    private static void assertGreedyText(LoadedModel m, JsonObject p) throws ModelLoadException {
        String prompt = p.get("prompt").getAsString();
        String text = m.generate(GenerationRequest.greedy(prompt, p.getAsJsonArray("greedy_ids").size()),
                (id, t) -> true).text();
        assertEquals(p.get("greedy_full_text").getAsString(), prompt + text, m.info().loaderId());
    }

    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"ExLlama", "ExLlamav2"})
    void nativeSamplerLoadersGenerateTheReferenceGreedyText(String loaderId) throws Exception {
        JsonObject ref = reference(GPTQ4);
        try (LoadedModel m = load(loaderId, GPTQ4, THREADS)) {
            assertTrue(m.logits().isEmpty(), loaderId + " offers no logits (text-generation-webui: use the _HF one)");
            // max_seq_len: 2048 (max_position_embeddings) positions allocated at load.
            assertTrue(m.info().description().contains("KV cache preallocated: 2048 positions"),
                    m.info().description());
            for (JsonElement pe : ref.getAsJsonArray("prompts")) {
                assertGreedyText(m, pe.getAsJsonObject());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"AutoGPTQ", "ExLlama_HF", "Transformers"})
    void tinyLlamaGptqMatchesTheReferenceDequantization(String loaderId) throws Exception {
        JsonObject ref = reference(TINY_GPTQ);
        try (LoadedModel m = load(loaderId, TINY_GPTQ, THREADS)) {
            float[] last = m.logits().orElseThrow().evaluate(References.ints(ref.getAsJsonArray("input_ids")), false)[0];
            double d = Logits.maxAbsDiff(References.floats(ref.getAsJsonArray("dequant_last_logits")), last);
            String line = loaderId + " on " + TINY_GPTQ + ": max |logit - AutoGPTQ dequantization| " + d;
            LOG.log(System.Logger.Level.INFO, line);
            System.out.println(line);
            assertTrue(d < TOLERANCE, line);
        }
    }

    // ---- options -----------------------------------------------------------------------------------------

    @Test
    void gptqOptionsAreFilledFromTheFiles() throws Exception {
        // The 8-bit model's best loader is AutoGPTQ (the ExLlamas take 4-bit only).
        ModelSettings s = manager.settings(GPTQ8);
        assertEquals("AutoGPTQ", s.loader());
        assertEquals(8L, s.options().get("wbits"));
        assertEquals(32L, s.options().get("groupsize"));
        assertEquals(false, s.options().get("desc_act"));
        // The files win over the user's values, which only warn.
        try (LoadedModel m = load("AutoGPTQ", GPTQ4, Map.of("threads", 2, "wbits", 8, "groupsize", 128))) {
            List<String> w = m.info().warnings();
            assertTrue(w.stream().anyMatch(x -> x.startsWith("wbits 8 has no effect")), w.toString());
            assertTrue(w.stream().anyMatch(x -> x.startsWith("groupsize 128 has no effect")), w.toString());
            assertEquals(4L, m.info().effectiveOptions().get("wbits"));
        }
    }

    @Test
    void optionsThatCannotApplySayWhyAndImpossibleOnesAreRefused() throws Exception {
        ModelLoadException eight = assertThrows(ModelLoadException.class, () -> load("ExLlama", GPTQ8, THREADS));
        assertTrue(eight.getMessage().contains("4-bit GPTQ only"), eight.getMessage());
        ModelLoadException opt = assertThrows(ModelLoadException.class, () -> load("GPTQ-for-LLaMa", GPTQ4,
                Map.of("model_type", "opt")));
        assertTrue(opt.getMessage().contains("model_type opt") && opt.fix().contains("llama"), opt.getMessage());
        ModelLoadException remote = assertThrows(ModelLoadException.class, () -> LoaderOptions.validate(
                Framework.loader("AutoGPTQ").options(), Map.of("trust_remote_code", "maybe")));
        assertTrue(remote.getMessage().contains("trust_remote_code"), remote.getMessage());
        for (String l : List.of("AutoGPTQ", "ExLlama", "ExLlamav2_HF", "AutoAWQ", "Transformers")) {
            for (var spec : Framework.loader(l).options()) {
                if (List.of("gpu_memory", "gpu_split", "triton", "disable_exllama", "no_flash_attn",
                        "trust_remote_code", "no_use_fast", "auto_devices", "no_inject_fused_attention")
                        .contains(spec.name())) {
                    assertTrue(spec.applies() != null && !spec.applies().isBlank(), l + " " + spec.name());
                }
            }
        }
        try (LoadedModel m = load("Transformers", GPTQ4, Map.of("threads", 2, "disable_exllama", true))) {
            assertTrue(m.info().warnings().stream().anyMatch(w -> w.startsWith("disable_exllama has no effect: "
                    + "the ExLlama kernels are CUDA kernels")), m.info().warnings().toString());
        }
        // rope_freq_base is one decimal option wherever it is offered.
        assertEquals(Framework.loader("ExLlama").options().stream().filter(o -> o.name().equals("rope_freq_base")).findFirst()
                .orElseThrow(), Framework.loader("Transformers").options().stream().filter(o -> o.name().equals(
                        "rope_freq_base")).findFirst().orElseThrow());
    }

    @Test
    void samplerSetsFollowTextGenerationWebui() throws Exception {
        Capabilities el = Framework.loader("ExLlama").capabilities();
        assertTrue(el.samplers().contains(Sampling.TYPICAL_P) && el.samplers().contains(Sampling.GUIDANCE_SCALE));
        assertFalse(el.samplers().contains(Sampling.MIN_P));
        assertEquals(Capabilities.LoraSupport.SINGLE, el.lora());
        Capabilities el2 = Framework.loader("ExLlamav2").capabilities();
        assertTrue(el2.samplers().contains(Sampling.MIN_P) && el2.samplers().contains(Sampling.MIROSTAT_MODE));
        assertFalse(el2.samplers().contains(Sampling.GUIDANCE_SCALE) || el2.cfg());
        assertEquals(Capabilities.LoraSupport.MULTI, el2.lora());
        manager.load(GPTQ4, "ExLlama", THREADS);
        ModelLoadException minP = assertThrows(ModelLoadException.class, () -> manager.generate(GPTQ4,
                new GenerationRequest("Once", 5, Map.of(Sampling.MIN_P, 0.1), List.of(), true, false, ""),
                (i, t) -> true));
        assertTrue(minP.getMessage().contains("min_p"), minP.getMessage());
    }

    // ---- old GPTQ-for-LLaMa folder -----------------------------------------------------------------------

    @Test
    void anOldGptqForLlamaFolderLoadsFromItsNameAndFile() throws Exception {
        // stories260K-gptq-4bit-64g-sym as an old folder: no quantize_config.json, no quantization_config,
        // the checkpoint named after the folder as GPTQ-for-LLaMa's file lookup expects.
        String name = "stories260K-4bit-64g";
        Path old = Files.createDirectories(models.resolve(name));
        try (Stream<Path> files = Files.list(models.resolve(GPTQ4_SYM))) {
            for (Path f : files.toList()) {
                String n = f.getFileName().toString();
                if (n.equals("model.safetensors")) {
                    Files.copy(f, old.resolve(name + ".safetensors"));
                } else if (n.equals("config.json")) {
                    JsonObject c = JsonParser.parseString(Files.readString(f)).getAsJsonObject();
                    c.remove("quantization_config");
                    Files.writeString(old.resolve(n), c.toString());
                } else if (!n.equals("quantize_config.json")) {
                    Files.copy(f, old.resolve(n));
                }
            }
        }
        manager.refresh();
        assertEquals("GPTQ-for-LLaMa", candidates(name).get(0), candidates(name).toString());
        ModelSettings s = manager.settings(name);
        assertEquals("GPTQ-for-LLaMa", s.loader());
        assertEquals(4L, s.options().get("wbits"), "from the name");
        assertEquals(64L, s.options().get("groupsize"), "from the name");
        ModelLoader l = Framework.loader("GPTQ-for-LLaMa");
        ModelLoadException noBits = assertThrows(ModelLoadException.class, () -> l.load(ModelSource.of(old),
                LoaderOptions.validate(l.options(), THREADS)));
        assertTrue(noBits.fix().contains("wbits"), noBits.fix());
        JsonObject ref = reference(GPTQ4_SYM).getAsJsonArray("prompts").get(0).getAsJsonObject();
        try (LoadedModel m = l.load(ModelSource.of(old), LoaderOptions.validate(l.options(), s.options()))) {
            float[] last = m.logits().orElseThrow().evaluate(References.ints(ref.getAsJsonArray("input_ids")), false)[0];
            double d = Logits.maxAbsDiff(References.floats(ref.getAsJsonArray("last_logits")), last);
            assertTrue(d < TOLERANCE, "old folder vs the reference: " + d);
            assertTrue(m.info().warnings().stream().anyMatch(w -> w.startsWith("no quantization config")),
                    m.info().warnings().toString());
        }
        // pre_layer: the first layer in memory, the rest mapped from the file; same logits.
        Map<String, Object> pre = new java.util.HashMap<>(s.options());
        pre.put("pre_layer", 1L);
        try (LoadedModel m = l.load(ModelSource.of(old), LoaderOptions.validate(l.options(), pre))) {
            assertTrue(m.info().warnings().stream().anyMatch(w -> w.startsWith("pre_layer: ")),
                    m.info().warnings().toString());
            float[] last = m.logits().orElseThrow().evaluate(References.ints(ref.getAsJsonArray("input_ids")), false)[0];
            assertTrue(Logits.maxAbsDiff(References.floats(ref.getAsJsonArray("last_logits")), last) < TOLERANCE);
        }
    }

    // ---- LoRA, CFG, perplexity ---------------------------------------------------------------------------

    @Test
    void aLoraOnAGptqBaseChangesTheLogitsAndComesOffExactly() throws Exception {
        // stories260K-lora-r4-qv adapts q_proj and v_proj (64×64), which the pad192 GPTQ base shares with
        // stories260K; stories260K-lora-r8 also adapts the MLP, whose width pad192 changed (172 → 192).
        Path lora = shared.resolve("stories260K-lora-r4-qv");
        int[] ids = {1, 403, 407, 261, 378};
        for (String l : List.of("AutoGPTQ", "ExLlama_HF", "ExLlamav2_HF")) {
            try (LoadedModel m = load(l, GPTQ4, THREADS)) {
                float[] base = m.logits().orElseThrow().evaluate(ids, false)[0];
                m.setLoras(List.of(new LoraAdapter("stories260K-lora-r4-qv", lora, 1.0)));
                float[] adapted = m.logits().orElseThrow().evaluate(ids, false)[0];
                assertTrue(Logits.maxAbsDiff(base, adapted) > 1e-3, l + ": the adapter moves the logits");
                m.setLoras(List.of());
                assertArrayEquals(base, m.logits().orElseThrow().evaluate(ids, false)[0], l + ": removed exactly");
            }
        }
        try (LoadedModel m = load("AutoGPTQ", GPTQ4, THREADS)) {
            ModelLoadException wide = assertThrows(ModelLoadException.class, () -> m.setLoras(List.of(
                    new LoraAdapter("stories260K-lora-r8", shared.resolve("stories260K-lora-r8"), 1.0))));
            LOG.log(System.Logger.Level.INFO, "stories260K-lora-r8 on the pad192 GPTQ base: " + wide.getMessage());
        }
    }

    @Test
    void cfgThroughAnHfSamplerGptqLoaderAndTheCfgCacheOfTheHfWrappers() throws Exception {
        String prompt = "Once upon a time";
        Map<String, Object> cfg = Map.of(Sampling.DO_SAMPLE, false, Sampling.GUIDANCE_SCALE, 3.0);
        try (LoadedModel m = load("AutoGPTQ", GPTQ4, THREADS)) {
            String plain = m.generate(GenerationRequest.greedy(prompt, 20), (i, t) -> true).text();
            String same = m.generate(new GenerationRequest(prompt, 20, cfg, List.of(), true, false, prompt),
                    (i, t) -> true).text();
            assertEquals(plain, same, "negative prompt = prompt: guidance changes nothing");
            String other = m.generate(new GenerationRequest(prompt, 20, cfg, List.of(), true, false,
                    "The little dog was sad"), (i, t) -> true).text();
            assertNotEquals(plain, other, "another negative prompt steers the text");
        }
        ModelLoadException noCache;
        try (LoadedModel m = load("ExLlama_HF", GPTQ4, THREADS)) {
            noCache = assertThrows(ModelLoadException.class, () -> m.generate(new GenerationRequest(prompt, 5, cfg,
                    List.of(), true, false, "x"), (i, t) -> true));
        }
        assertTrue(noCache.getMessage().contains("cfg_cache") && noCache.fix().contains("cfg_cache"),
                noCache.getMessage());
        try (LoadedModel m = load("ExLlama_HF", GPTQ4, Map.of("threads", 2, "cfg_cache", true))) {
            assertEquals(20, m.generate(new GenerationRequest(prompt, 20, cfg, List.of(), true, false, "x"),
                    (i, t) -> true).generatedTokens());
        }
    }

    @Test
    void perplexityThroughAGptqLoaderMatchesTheReferenceLogits() throws Exception {
        PerplexityEvaluator evaluator = Framework.service(PerplexityEvaluator.class, WAIT);
        JsonObject p = reference(GPTQ4).getAsJsonArray("prompts").get(1).getAsJsonObject();
        int[] ids = References.ints(p.getAsJsonArray("input_ids"));
        JsonArray all = p.getAsJsonArray("all_logits");
        double nll = 0;
        for (int pos = 0; pos + 1 < ids.length; pos++) {
            float[] l = References.floats(all.get(pos).getAsJsonArray());
            double max = Double.NEGATIVE_INFINITY;
            for (float v : l) {
                max = Math.max(max, v);
            }
            double sum = 0;
            for (float v : l) {
                sum += Math.exp(v - max);
            }
            nll += max + Math.log(sum) - l[ids[pos + 1]];
        }
        double expected = Math.exp(nll / (ids.length - 1));
        manager.load(GPTQ4, "AutoGPTQ", THREADS);
        EvaluationResult r = evaluator.evaluate(new EvaluationRequest(GPTQ4, null, p.get("prompt").getAsString(), 512,
                512, PerplexityMethod.WINDOWS, true, "QuantLoadersTest"), (done, total) -> true);
        String line = "AutoGPTQ perplexity of '" + p.get("prompt").getAsString() + "': " + r.perplexity()
                + ", from the reference logits " + expected;
        LOG.log(System.Logger.Level.INFO, line);
        System.out.println(line);
        assertEquals(ids.length, r.tokens());
        assertEquals(expected, r.perplexity(), expected * 1e-3, line);
    }
}
