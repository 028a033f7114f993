package io.loadstone.loader.ctransformers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;
import org.junit.jupiter.params.provider.ValueSource;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.api.loader.Sampling;
import io.loadstone.api.loader.StopReason;
import io.loadstone.gguf.GgufWriter;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.testsupport.Logits;
import io.loadstone.testsupport.NativeLibraries;
import io.loadstone.testsupport.References;
import io.loadstone.testsupport.SharedModels;

/**
 * The ctransformers loader on the real llama.cpp library: transformers' greedy ids and logits
 * for the five tiny non-llama fixtures, its choice of files, and everything it refuses in Java.
 */
class CtransformersLoaderTest {

    private static final System.Logger LOG = System.getLogger(CtransformersLoaderTest.class.getName());

    static final List<ReferenceModels> MODELS = ReferenceModels.ALL;

    private static LlamaLibrary library;
    private static CtransformersLoader loader;

    @BeforeAll
    static void load() throws Exception {
        library = LlamaLibrary.load(NativeLibraries.llamaCpp(), "llama.cpp-b4916");
        loader = new CtransformersLoader(library.runtime());
    }

    @AfterAll
    static void unload() {
        if (loader != null) {
            loader.deactivate();
        }
        if (library != null) {
            library.close();
        }
    }

    private static LoadedModel open(Path model, Map<String, ?> options) throws ModelLoadException {
        return loader.load(ModelSource.of(model), LoaderOptions.validate(loader.options(), options));
    }

    /** Greedy ids as the loader streams them; the fixtures' tokenizer adds no BOS. */
    static int[] greedyIds(LoadedModel m, String prompt, int n) throws ModelLoadException {
        List<Integer> ids = new ArrayList<>();
        GenerationResult r = m.generate(new GenerationRequest(prompt, n, Map.of(Sampling.DO_SAMPLE, false), List.of(),
                false, false, ""), (id, piece) -> ids.add(id));
        assertEquals(StopReason.LENGTH, r.reason());
        // The sink may be called once more after the last token, with its id, for text held back
        // until then (an incomplete UTF-8 sequence): the result says how many tokens there were.
        return ids.stream().limit(r.generatedTokens()).mapToInt(Integer::intValue).toArray();
    }

    // ---- transformers' reference ----

    @ParameterizedTest
    @FieldSource("MODELS")
    void greedyIdsAreTransformers(ReferenceModels fixture) throws Exception {
        try (LoadedModel m = open(fixture.path(), Map.of("n_ctx", 128, "threads", 2))) {
            for (JsonElement e : fixture.reference().getAsJsonArray("prompts")) {
                JsonObject p = e.getAsJsonObject();
                int[] expected = References.ints(p.getAsJsonArray("greedy_ids"));
                assertArrayEquals(expected, greedyIds(m, p.get("prompt").getAsString(), expected.length),
                        fixture + ": " + p.get("prompt"));
            }
        }
    }

    @ParameterizedTest
    @FieldSource("MODELS")
    void logitsAreTransformersWithinTheFixturesTolerance(ReferenceModels fixture) throws Exception {
        try (LoadedModel m = open(fixture.path(), Map.of("n_ctx", 128, "threads", 2, "cache_type", "fp32"))) {
            double worst = 0;
            for (JsonElement e : fixture.reference().getAsJsonArray("prompts")) {
                JsonObject p = e.getAsJsonObject();
                int[] ids = References.ints(p.getAsJsonArray("input_ids"));
                assertArrayEquals(ids, m.tokenize(p.get("prompt").getAsString(), false), "llama.cpp's tokenizer");
                float[][] all = m.logits().orElseThrow().evaluate(ids, true);
                var expected = p.getAsJsonArray("all_logits");
                assertEquals(expected.size(), all.length);
                for (int i = 0; i < all.length; i++) {
                    worst = Math.max(worst, Logits.maxAbsDiff(References.floats(expected.get(i).getAsJsonArray()),
                            all[i]));
                }
            }
            LOG.log(System.Logger.Level.INFO, fixture + ": max |logit - transformers| over all positions = " + worst);
            assertTrue(worst < fixture.tolerance(), fixture + ": max |diff| " + worst);
            assertEquals(fixture.architecture(), m.info().description().replaceAll(".*architecture (\\S+?),.*",
                    "$1"));
        }
    }

    // ---- files and detection ----

    @Test
    void ctransformersFamiliesRankAboveLlamaCppAndLlamaStaysWithIt() throws Exception {
        for (ReferenceModels f : MODELS) {
            Detection d = loader.detect(ModelSource.of(f.path()));
            assertEquals(CtransformersLoader.SCORE_FAMILY, d.score(), d.reason());
            assertTrue(d.reason().contains("architecture " + f.architecture()), d.reason());
            assertTrue(d.score() > Detection.PREFERRED, "above the llama.cpp loader");
        }
        Detection starcoder = loader.detect(ModelSource.of(SharedModels.model("tiny-starcoder-gguf")));
        assertTrue(starcoder.reason().contains("model_type starcoder or gptbigcode"), starcoder.reason());
        Detection llama = loader.detect(ModelSource.of(SharedModels.stories()));
        assertTrue(llama.accepted(), llama.reason());
        assertTrue(llama.score() < Detection.COMPATIBLE, "llama-family GGUF stays the llama.cpp loader's: "
                + llama);
    }

    @Test
    void aGgufNamedBinIsLoadedWhenThereIsNoGguf(@TempDir Path dir) throws Exception {
        ReferenceModels gpt2 = MODELS.getFirst();
        Path folder = Files.createDirectories(dir.resolve("gpt2-bin"));
        Files.copy(gpt2.path(), folder.resolve("ggml-model-f32.bin"));
        assertEquals(CtransformersLoader.SCORE_FAMILY, loader.detect(ModelSource.of(folder)).score());
        JsonObject first = gpt2.reference().getAsJsonArray("prompts").get(0).getAsJsonObject();
        try (LoadedModel m = open(folder, Map.of("n_ctx", 64))) {
            int[] expected = References.ints(first.getAsJsonArray("greedy_ids"));
            assertArrayEquals(expected, greedyIds(m, first.get("prompt").getAsString(), expected.length));
        }
        // A .gguf in the same folder wins over the .bin, as in text-generation-webui.
        Files.writeString(folder.resolve("a.gguf"), "not a gguf");
        assertFalse(loader.detect(ModelSource.of(folder)).accepted());
    }

    @ParameterizedTest
    @ValueSource(strings = {"lmgg", "fmgg", "tjgg"})
    void legacyGgmlFilesAreRefusedWithTheFixBeforeNativeCode(String header, @TempDir Path dir) throws Exception {
        Path folder = Files.createDirectories(dir.resolve("old-ggml"));
        // Magic as the old formats wrote it (a little-endian uint32), then a version and junk.
        byte[] bytes = new byte[64];
        System.arraycopy(header.getBytes(StandardCharsets.ISO_8859_1), 0, bytes, 0, 4);
        bytes[4] = 3;
        Files.write(folder.resolve("ggml-model-q4_0.bin"), bytes);
        String magic = new StringBuilder(header).reverse().toString();

        Detection d = loader.detect(ModelSource.of(folder));
        assertFalse(d.accepted());
        assertTrue(d.reason().contains("magic '" + magic + "'") && d.reason().contains(
                "convert_llama_ggml_to_gguf.py"), d.reason());
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> open(folder, Map.of()));
        assertTrue(e.getMessage().contains("ggml-model-q4_0.bin is a legacy GGML file (magic '" + magic + "')"),
                e.getMessage());
        assertEquals("GGML files are no longer supported by llama.cpp: convert with convert_llama_ggml_to_gguf.py "
                + "or download the GGUF version.", e.fix());
    }

    @Test
    void aPyTorchCheckpointIsNotThisLoaders(@TempDir Path dir) throws Exception {
        Path folder = Files.createDirectories(dir.resolve("hf"));
        Files.write(folder.resolve("pytorch_model.bin"), new byte[] {'P', 'K', 3, 4, 0, 0, 0, 0});
        Files.writeString(folder.resolve("config.json"), "{}");
        Detection d = loader.detect(ModelSource.of(folder));
        assertFalse(d.accepted());
        assertTrue(d.reason().contains("neither GGUF nor GGML"), d.reason());
        assertFalse(loader.detect(ModelSource.of(Files.createDirectories(dir.resolve("empty")))).accepted());
    }

    // ---- model_type and architectures ----

    @Test
    void modelTypeMustAgreeWithTheFile() throws Exception {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> open(MODELS.getFirst().path(),
                Map.of("model_type", "falcon")));
        assertTrue(e.getMessage().contains("model_type=falcon") && e.getMessage().contains("'gpt2'"),
                e.getMessage());
        assertTrue(e.fix().contains("None") && e.fix().contains("gpt2"), e.fix());
        Path neox = SharedModels.model("tiny-gptneox-gguf");
        for (String alias : List.of("dollyv2", "gptneox")) {
            try (LoadedModel m = open(neox, Map.of("model_type", alias, "n_ctx", 64))) {
                assertEquals(alias, m.info().effectiveOptions().get("model_type"));
            }
        }
        try (LoadedModel m = open(SharedModels.model("tiny-starcoder-gguf"), Map.of("model_type", "gptbigcode",
                "n_ctx", 64))) {
            assertEquals(64L, m.info().effectiveOptions().get("n_ctx"));
        }
        try (LoadedModel m = open(MODELS.getFirst().path(), Map.of("n_ctx", 64))) {
            assertEquals("gpt2", m.info().effectiveOptions().get("model_type"), "None resolves from the file");
        }
    }

    @Test
    void architecturesTheBuildCannotRunAreRefusedInJava(@TempDir Path dir) throws Exception {
        // A header is enough: the refusal must come before llama.cpp would read a single tensor.
        Path gptj = dir.resolve("gpt-j-6b.Q4_0.gguf");
        new GgufWriter().putString("general.architecture", "gptj").putUInt32("gptj.context_length", 2048)
                .write(gptj);
        Detection d = loader.detect(ModelSource.of(gptj));
        assertFalse(d.accepted());
        assertTrue(d.reason().contains("'gptj'") && d.reason().contains("llama.cpp-b4916"), d.reason());
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> open(gptj, Map.of()));
        assertTrue(e.getMessage().contains("architecture 'gptj' cannot run on llama.cpp-b4916"), e.getMessage());
        ModelLoadException typed = assertThrows(ModelLoadException.class, () -> open(gptj, Map.of("model_type",
                "gptj")));
        assertTrue(typed.getMessage().contains("cannot run on llama.cpp-b4916"), typed.getMessage());

        Path qwen3 = SharedModels.model("tiny-qwen3-gguf");
        ModelLoadException newer = assertThrows(ModelLoadException.class, () -> open(qwen3, Map.of()));
        assertTrue(newer.getMessage().contains("architecture 'qwen3' needs a newer llama.cpp build: "
                + "llama.cpp-b4916 does not know it"), newer.getMessage());
        assertTrue(newer.fix().contains("newer Loadstone llama.cpp runtime"), newer.fix());
    }

    // ---- what it has and has not ----

    @Test
    void optionsAreTextGenerationWebuisWithModelTypeChoices() {
        assertEquals(List.of("n_ctx", "n_gpu_layers", "n_batch", "threads", "model_type", "no_mmap", "mlock",
                "cache_type"), loader.options().stream().map(OptionSpec::name).toList());
        OptionSpec type = loader.options().get(4);
        assertEquals("None", type.defaultValue());
        assertEquals(List.of("None", "gpt2", "gptj", "gptneox", "llama", "mpt", "dollyv2", "replit", "starcoder",
                "gptbigcode", "falcon"), type.choices());
        assertThrows(ModelLoadException.class, () -> LoaderOptions.validate(loader.options(), Map.of("model_type",
                "bloom")));
    }

    @Test
    void ctransformersSamplersOnlyNoLoraNoCfg() throws Exception {
        Capabilities c = loader.capabilities();
        assertEquals(Capabilities.LoraSupport.NONE, c.lora());
        assertFalse(c.cfg());
        try (LoadedModel m = open(MODELS.getFirst().path(), Map.of("n_ctx", 64))) {
            ModelLoadException minP = assertThrows(ModelLoadException.class, () -> m.generate(new GenerationRequest(
                    "Once", 4, Map.of(Sampling.MIN_P, 0.1), List.of(), false, false, ""), (i, t) -> true));
            assertTrue(minP.getMessage().contains("ctransformers loader cannot apply [min_p]"), minP.getMessage());
            ModelLoadException cfg = assertThrows(ModelLoadException.class, () -> m.generate(new GenerationRequest(
                    "Once", 4, Map.of(), List.of(), false, false, "bad"), (i, t) -> true));
            assertTrue(cfg.getMessage().contains("ctransformers loader has no classifier-free guidance"),
                    cfg.getMessage());
            ModelLoadException lora = assertThrows(ModelLoadException.class, () -> m.setLoras(List.of(
                    new LoraAdapter("x", Path.of("x"), 1))));
            assertTrue(lora.getMessage().contains("no LoRA support"), lora.getMessage());
            assertEquals(List.of(), m.loras());
            // Its own samplers work: sampling still yields tokens, penalties included.
            GenerationResult r = m.generate(new GenerationRequest("Once upon a time", 8, Map.of(Sampling.TEMPERATURE,
                    0.7, Sampling.TOP_K, 40L, Sampling.TOP_P, 0.9, Sampling.REPETITION_PENALTY, 1.2,
                    Sampling.REPETITION_PENALTY_RANGE, 64L), List.of(), false, false, ""), (i, t) -> true);
            // Unseeded sampling on a random tiny model may draw its end-of-text token before 8: either is right.
            assertTrue(r.generatedTokens() > 0, r.toString());
            assertTrue(r.reason() == StopReason.LENGTH ? r.generatedTokens() == 8 : r.reason() == StopReason.EOS,
                    r.toString());
        }
    }
}
