package io.loadstone.loader.llamacpphf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.api.loader.Sampling;
import io.loadstone.api.loader.StopReason;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.runner.RunnerLaunch;
import io.loadstone.llamacpp.runner.RunnerRuntime;
import io.loadstone.loader.llamacpp.LlamaCppLoader;
import io.loadstone.sampling.SamplerSettings;

/**
 * The llamacpp_HF loader end to end on stories260K (GGUF + its Hugging Face tokenizer files),
 * with the llama.cpp loader on the same file as the reference.
 */
class LlamaCppHfLoaderTest {

    private static final System.Logger LOG = System.getLogger(LlamaCppHfLoaderTest.class.getName());
    private static final String PROMPT = "Once upon a time";

    private static LlamaLibrary library;
    private static LlamaCppLoader reference;
    private static Path work;
    private static Path folder;
    private static LlamaCppHfLoader loader;

    @BeforeAll
    static void load(@TempDir Path dir) throws Exception {
        library = RunnerRuntime.start(RunnerLaunch.outsideOsgi(TestFiles.library(), "llama.cpp-b4916")).asLibrary();
        reference = new LlamaCppLoader(library.runtime());
        work = dir;
        folder = TestFiles.hfFolder(dir.resolve("stories260K-HF"));
        // A home whose default tokenizer folder does not exist: only the folder's own tokenizer counts.
        loader = new LlamaCppHfLoader(library.runtime(), TestFiles.tokenizers(), dir.resolve("home"),
                LlamaCppHfConfig.DEFAULT_TOKENIZER_DIR);
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

    private static LoadedModel open(Map<String, ?> options) throws ModelLoadException {
        return open(loader, ModelSource.of(folder), options);
    }

    private static LoadedModel open(ModelLoader l, ModelSource s, Map<String, ?> options) throws ModelLoadException {
        return l.load(s, LoaderOptions.validate(l.options(), options));
    }

    private static GenerationRequest request(Map<String, Object> sampling, String negative) {
        return new GenerationRequest(PROMPT, 40, sampling, List.of(), true, false, negative);
    }

    private static String text(LoadedModel m, GenerationRequest r) throws ModelLoadException {
        return m.generate(r, (i, t) -> true).text();
    }

    // ---- what it is ----

    @Test
    void describesItselfAsLlamacppHf() {
        assertEquals("llamacpp_HF", loader.id());
        Capabilities c = loader.capabilities();
        assertTrue(c.cfg());
        assertTrue(c.logits());
        assertEquals(Capabilities.LoraSupport.MULTI, c.lora());
        assertEquals(SamplerSettings.supportedParameters(), c.samplers());
        List<String> names = loader.options().stream().map(OptionSpec::name).toList();
        for (OptionSpec s : reference.options()) {
            assertTrue(names.contains(s.name()), "llama.cpp option " + s.name());
        }
        OptionSpec logitsAll = spec(LlamaCppHfOptions.LOGITS_ALL);
        // The reason only: front ends put "no effect here" before it themselves.
        assertTrue(logitsAll.applies().startsWith("generation reads only the last token's logits"),
                logitsAll.applies());
        assertTrue(spec(LlamaCppHfOptions.NO_USE_FAST).applies().startsWith("there is one tokenizer"));
        assertEquals(null, spec(LlamaCppHfOptions.CFG_CACHE).applies(), "cfg_cache works");
    }

    private static OptionSpec spec(String name) {
        return loader.options().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void detectionRanksBelowTheLlamaCppLoaderAndNeedsATokenizer() throws Exception {
        Detection withTokenizer = loader.detect(ModelSource.of(folder));
        Detection llamaCpp = reference.detect(ModelSource.of(folder));
        assertTrue(withTokenizer.accepted(), withTokenizer.reason());
        assertTrue(withTokenizer.score() < llamaCpp.score(), withTokenizer + " vs " + llamaCpp);
        assertEquals("GGUF v3, architecture llama, with tokenizer.json next to it", withTokenizer.reason());

        Path bare = Files.createDirectories(work.resolve("bare"));
        Files.copy(TestFiles.stories(), bare.resolve("stories260K.gguf"));
        Detection none = loader.detect(ModelSource.of(bare.resolve("stories260K.gguf")));
        assertFalse(none.accepted());
        assertTrue(none.reason().startsWith("no Hugging Face tokenizer"), none.reason());
        assertFalse(loader.detect(ModelSource.of(TestFiles.models().resolve("stories260K-hf"))).accepted(),
                "a safetensors folder is not for this loader");
    }

    @Test
    void theDefaultTokenizerFolderServesBareGgufFiles() throws Exception {
        Path home = Files.createDirectories(work.resolve("home-with-tokenizer"));
        TestFiles.tokenizerInto(home.resolve("models/oobabooga_llama-tokenizer"));
        Path bare = Files.createDirectories(work.resolve("bare-with-default"));
        Files.copy(TestFiles.stories(), bare.resolve("stories260K.gguf"));
        LlamaCppHfLoader withDefault = new LlamaCppHfLoader(library.runtime(), TestFiles.tokenizers(), home,
                LlamaCppHfConfig.DEFAULT_TOKENIZER_DIR);
        try {
            Detection d = withDefault.detect(ModelSource.of(bare.resolve("stories260K.gguf")));
            assertTrue(d.accepted(), d.reason());
            assertTrue(d.score() < withDefault.detect(ModelSource.of(folder)).score(), "own tokenizer ranks higher");
            assertTrue(d.reason().contains("oobabooga_llama-tokenizer"), d.reason());
            try (LoadedModel m = open(withDefault, ModelSource.of(bare.resolve("stories260K.gguf")), Map.of())) {
                assertTrue(m.info().warnings().stream().anyMatch(w -> w.contains("default tokenizer")),
                        m.info().warnings().toString());
                assertEquals(greedyReference(40), text(m, GenerationRequest.greedy(PROMPT, 40)));
            }
        } finally {
            withDefault.deactivate();
        }
    }

    // ---- agreement with the llama.cpp loader ----

    private static String greedyReference(int n) throws ModelLoadException {
        try (LoadedModel ref = open(reference, ModelSource.of(TestFiles.stories()), Map.of())) {
            return text(ref, GenerationRequest.greedy(PROMPT, n));
        }
    }

    @Test
    void greedyTextIsTheLlamaCppLoadersText() throws Exception {
        String expected = greedyReference(40);
        try (LoadedModel m = open(Map.of())) {
            assertEquals("llamacpp_HF", m.info().loaderId());
            StringBuilder streamed = new StringBuilder();
            GenerationResult r = m.generate(GenerationRequest.greedy(PROMPT, 40), (i, t) -> {
                streamed.append(t);
                return true;
            });
            LOG.log(System.Logger.Level.INFO, "llamacpp_HF greedy: " + r.text());
            assertTrue(expected.startsWith(", there was a little girl named Lily."), expected);
            assertEquals(expected, r.text());
            assertEquals(r.text(), streamed.toString(), "streamed pieces add up to the result");
            assertEquals(40, r.generatedTokens());
            assertEquals(StopReason.LENGTH, r.reason());
            // Same prompt again: the KV cache is reused (only the last prompt token is evaluated).
            assertEquals(expected, text(m, GenerationRequest.greedy(PROMPT, 40)));
            // A chat-like continuation reuses the prefix and still agrees with a cold start.
            String longer = PROMPT + expected.substring(0, 20);
            String warm = text(m, GenerationRequest.greedy(longer, 20));
            try (LoadedModel ref = open(reference, ModelSource.of(TestFiles.stories()), Map.of())) {
                assertEquals(text(ref, GenerationRequest.greedy(longer, 20)), warm);
            }
        }
    }

    @Test
    void logitsAtEveryPositionEqualTheLlamaCppLoaders() throws Exception {
        for (String cache : List.of("fp32", "fp16")) {
            Map<String, Object> opts = Map.of("cache_type", cache, "n_ctx", 256);
            try (LoadedModel a = open(opts);
                    LoadedModel b = open(reference, ModelSource.of(TestFiles.stories()), opts)) {
                String text = "Once upon a time, there was a little girl named Lily. She loved to play outside.";
                int[] ids = a.tokenize(text, true);
                assertArrayEquals(b.tokenize(text, true), ids, "HF and llama.cpp tokenizers agree");
                float[][] x = a.logits().orElseThrow().evaluate(ids, true);
                float[][] y = b.logits().orElseThrow().evaluate(ids, true);
                assertEquals(ids.length, x.length);
                double diff = 0;
                for (int p = 0; p < ids.length; p++) {
                    diff = Math.max(diff, TestFiles.maxAbsDiff(x[p], y[p]));
                }
                float[][] last = a.logits().orElseThrow().evaluate(ids, false);
                double lastDiff = TestFiles.maxAbsDiff(last[0], y[ids.length - 1]);
                LOG.log(System.Logger.Level.INFO, "llamacpp_HF vs llama.cpp, cache " + cache + ", " + ids.length
                        + " positions: max |delta| " + diff + "; last-only evaluation: " + lastDiff);
                assertTrue(diff <= 1e-6, cache + ": max |delta| " + diff);
                assertTrue(lastDiff <= 1e-4, cache + ": last-only max |delta| " + lastDiff);
                assertEquals(512, a.logits().orElseThrow().vocabSize());
            }
        }
    }

    // ---- sampling ----

    @Test
    void seededSamplingRepeatsAndTheLoadSeedIsTheDefault() throws Exception {
        Map<String, Object> s42 = Map.of(Sampling.SEED, 42L, Sampling.TEMPERATURE, 1.2, Sampling.TOP_P, 0.95,
                Sampling.TOP_K, 50L, Sampling.MIN_P, 0.02, Sampling.REPETITION_PENALTY, 1.15, Sampling.TFS, 0.95,
                Sampling.TOP_A, 0.1, Sampling.NO_REPEAT_NGRAM_SIZE, 3L);
        try (LoadedModel m = open(Map.of("seed", 7))) {
            String a = text(m, request(s42, ""));
            assertEquals(a, text(m, request(s42, "")));
            Map<String, Object> s43 = new HashMap<>(s42);
            s43.put(Sampling.SEED, 43L);
            assertNotEquals(a, text(m, request(s43, "")));
            Map<String, Object> noSeed = Map.of(Sampling.TEMPERATURE, 1.5);
            assertEquals(text(m, request(noSeed, "")), text(m, request(noSeed, "")),
                    "the load option seed=7 makes unseeded requests reproducible");
            Map<String, Object> miro = Map.of(Sampling.MIROSTAT_MODE, 2L, Sampling.MIROSTAT_TAU, 3.0, Sampling.SEED,
                    5L);
            assertEquals(text(m, request(miro, "")), text(m, request(miro, "")));
        }
        try (LoadedModel fresh = open(Map.of())) {
            assertEquals(text(fresh, request(s42, "")), text(fresh, request(s42, "")));
        }
    }

    @Test
    void cfgWithCfgCacheGuidesAndScaleOneIsPlain() throws Exception {
        try (LoadedModel m = open(Map.of(LlamaCppHfOptions.CFG_CACHE, true))) {
            assertTrue(((LlamaCppHfModel) m).hasCfgCache());
            String plain = text(m, GenerationRequest.greedy(PROMPT, 40));
            assertEquals(greedyReference(40), plain);
            Map<String, Object> greedy = Map.of(Sampling.DO_SAMPLE, false);
            Map<String, Object> one = Map.of(Sampling.DO_SAMPLE, false, Sampling.GUIDANCE_SCALE, 1.0);
            assertEquals(plain, text(m, request(one, "a sad story about a dog")), "guidance_scale 1 is plain");
            Map<String, Object> guided = Map.of(Sampling.DO_SAMPLE, false, Sampling.GUIDANCE_SCALE, 3.0);
            // uncond + s·(cond − uncond) = cond when the negative side sees the same tokens.
            assertEquals(plain, text(m, request(guided, PROMPT)), "negative prompt = prompt is plain greedy");
            String cfg = text(m, request(guided, "The dog was sad"));
            LOG.log(System.Logger.Level.INFO, "CFG 3.0 against 'The dog was sad': " + cfg);
            assertNotEquals(plain, cfg);
            assertEquals(cfg, text(m, request(guided, "The dog was sad")), "greedy CFG repeats (both caches reused)");
            // No negative prompt: guidance against the last prompt token alone (as transformers does).
            assertEquals(40, m.generate(request(guided, ""), (i, t) -> true).generatedTokens());
            assertEquals(plain, text(m, request(greedy, "")), "and plain again afterwards");
        }
    }

    // ---- refusals ----

    @Test
    void cfgWithoutCfgCacheIsRefusedWithTheFix() throws Exception {
        try (LoadedModel m = open(Map.of())) {
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> text(m, request(Map.of(
                    Sampling.GUIDANCE_SCALE, 1.5), "")));
            assertTrue(e.getMessage().contains("cfg_cache") && e.fix().contains("cfg_cache"), e.userMessage());
            e = assertThrows(ModelLoadException.class, () -> text(m, request(Map.of(), "bad things")));
            assertTrue(e.getMessage().contains("negative prompt"), e.getMessage());
            LOG.log(System.Logger.Level.INFO, "CFG without cfg_cache: " + e.userMessage());
            assertEquals(greedyReference(40), text(m, GenerationRequest.greedy(PROMPT, 40)), "the model still works");
        }
    }

    @Test
    void noTokenizerIsRefusedSayingWhereItLookedAndWhatToDo() throws Exception {
        Path bare = Files.createDirectories(work.resolve("no-tokenizer"));
        Files.copy(TestFiles.stories(), bare.resolve("model.gguf"));
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> open(loader, ModelSource.of(bare), Map.of()));
        LOG.log(System.Logger.Level.INFO, "no tokenizer: " + e.userMessage());
        assertTrue(e.getMessage().contains("model.gguf"), e.getMessage());
        assertTrue(e.getMessage().contains(bare.toAbsolutePath().toString()), e.getMessage());
        assertTrue(e.getMessage().contains("oobabooga_llama-tokenizer"), e.getMessage());
        assertTrue(e.fix().contains("tokenizer_config.json") && e.fix().contains(
                "distribution/loadstone download oobabooga/llama-tokenizer"), e.fix());
    }

    @Test
    void aTokenizerLargerThanTheModelsVocabularyIsRefused() throws Exception {
        Path dir = TestFiles.hfFolder(work.resolve("wrong-tokenizer"));
        JsonObject tok = JsonParser.parseString(Files.readString(dir.resolve("tokenizer.json"))).getAsJsonObject();
        JsonObject extra = tok.getAsJsonArray("added_tokens").get(0).getAsJsonObject().deepCopy();
        extra.addProperty("id", 600);
        extra.addProperty("content", "<|extra|>");
        tok.getAsJsonArray("added_tokens").add((JsonElement) extra);
        Files.writeString(dir.resolve("tokenizer.json"), tok.toString());
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> open(loader, ModelSource.of(dir),
                Map.of()));
        LOG.log(System.Logger.Level.INFO, "vocabulary mismatch: " + e.userMessage());
        assertTrue(e.getMessage().contains("601") && e.getMessage().contains("n_vocab=512"), e.getMessage());
        assertTrue(e.getMessage().contains("stories260K.gguf"), e.getMessage());
    }

    @Test
    void corruptGgufIsRefusedNamingTheFileBeforeNativeCode() throws Exception {
        Path dir = TestFiles.tokenizerInto(work.resolve("corrupt"));
        byte[] all = Files.readAllBytes(TestFiles.stories());
        Files.write(dir.resolve("truncated.gguf"), Arrays.copyOf(all, all.length / 2));
        Detection d = loader.detect(ModelSource.of(dir));
        assertFalse(d.accepted());
        assertTrue(d.reason().contains("truncated.gguf"), d.reason());
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> open(loader, ModelSource.of(dir),
                Map.of()));
        LOG.log(System.Logger.Level.INFO, "corrupt GGUF: " + e.userMessage());
        assertTrue(e.getMessage().contains("truncated.gguf"), e.getMessage());
        assertFalse(e.fix().isEmpty());
    }

    @Test
    void optionsWithoutEffectSaySoWhenSet() throws Exception {
        try (LoadedModel m = open(Map.of(LlamaCppHfOptions.LOGITS_ALL, true, LlamaCppHfOptions.NO_USE_FAST, true))) {
            List<String> w = m.info().warnings();
            assertTrue(w.stream().anyMatch(s -> s.startsWith("logits_all=true had no effect")), w.toString());
            assertTrue(w.stream().anyMatch(s -> s.startsWith("no_use_fast=true had no effect")), w.toString());
            assertEquals(greedyReference(40), text(m, GenerationRequest.greedy(PROMPT, 40)));
        }
    }

    // ---- life cycle ----

    @Test
    void closeDuringGenerationEndsItWithClosed() throws Exception {
        LoadedModel m = open(Map.of(LlamaCppHfOptions.CFG_CACHE, true));
        CountDownLatch started = new CountDownLatch(1);
        AtomicReference<GenerationResult> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                result.set(m.generate(new GenerationRequest(PROMPT, 100_000, Map.of(Sampling.GUIDANCE_SCALE, 1.5,
                        Sampling.SEED, 1L), List.of(), true, true, "sad"), (i, s) -> {
                            started.countDown();
                            return true;
                        }));
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        t.start();
        assertTrue(started.await(30, TimeUnit.SECONDS));
        m.close();
        t.join(30_000);
        assertFalse(t.isAlive());
        assertEquals(null, failure.get());
        assertEquals(StopReason.CLOSED, result.get().reason());
        LOG.log(System.Logger.Level.INFO, "closed after " + result.get().generatedTokens() + " tokens");
        assertEquals(StopReason.CLOSED, m.generate(GenerationRequest.greedy(PROMPT, 5), (i, s) -> true).reason());
        assertThrows(ModelLoadException.class, () -> m.tokenize(PROMPT, true));
        m.close();
    }

    @Test
    void deactivationClosesEveryModel() throws Exception {
        LlamaCppHfLoader own = new LlamaCppHfLoader(library.runtime(), TestFiles.tokenizers(), work,
                LlamaCppHfConfig.DEFAULT_TOKENIZER_DIR);
        LoadedModel a = open(own, ModelSource.of(folder), Map.of());
        LoadedModel b = open(own, ModelSource.of(folder), Map.of(LlamaCppHfOptions.CFG_CACHE, true));
        own.deactivate();
        assertTrue(((LlamaCppHfModel) a).isClosed());
        assertTrue(((LlamaCppHfModel) b).isClosed());
    }
}
