package io.loadstone.loader.llamacpp;

import io.loadstone.llamacpp.loading.GgufSelection;
import io.loadstone.llamacpp.loading.LlamaCppOptions;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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

import com.google.gson.JsonObject;

import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.api.loader.Sampling;
import io.loadstone.api.loader.StopReason;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.runner.RunnerLaunch;
import io.loadstone.llamacpp.runner.RunnerRuntime;

/** The loader end to end on stories260K, against the transformers reference. */
class LlamaCppLoaderTest {

    private static final System.Logger LOG = System.getLogger(LlamaCppLoaderTest.class.getName());
    private static final String GREEDY_30 =
            ", there was a little girl named Lily. She loved to play outside in the park. One day,";

    private static LlamaLibrary library;
    private static LlamaCppLoader loader;
    private static JsonObject ref;

    @BeforeAll
    static void load() throws Exception {
        library = RunnerRuntime.start(RunnerLaunch.outsideOsgi(TestFiles.library(), "llama.cpp-b4916")).asLibrary();
        loader = new LlamaCppLoader(library.runtime());
        ref = TestFiles.reference();
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
        return loader.load(ModelSource.of(TestFiles.stories()), LoaderOptions.validate(loader.options(), options));
    }

    private static GenerationRequest request(String prompt, int max, Map<String, Object> sampling, List<String> stop,
            boolean banEos) {
        return new GenerationRequest(prompt, max, sampling, stop, true, banEos, "");
    }

    private static GenerationResult collect(LoadedModel m, GenerationRequest r, StringBuilder streamed)
            throws ModelLoadException {
        return m.generate(r, (id, text) -> {
            streamed.append(text);
            return true;
        });
    }

    // ---- detection ----

    @Test
    void detectsGgufFilesAndFolders(@TempDir Path dir) throws IOException {
        Detection d = loader.detect(ModelSource.of(TestFiles.stories()));
        assertEquals(Detection.PREFERRED, d.score());
        assertEquals("GGUF v3, architecture llama", d.reason());

        Path folder = Files.createDirectory(dir.resolve("stories-gguf"));
        Files.copy(TestFiles.stories(), folder.resolve("b-model.gguf"));
        Files.writeString(folder.resolve("a-mmproj.gguf"), "projector, not the model");
        Files.writeString(folder.resolve("README.md"), "hello");
        Detection f = loader.detect(ModelSource.of(folder));
        assertEquals(Detection.PREFERRED, f.score(), f.reason());
        assertTrue(f.reason().startsWith("GGUF v3, architecture llama, file b-model.gguf"), f.reason());

        Path hf = Files.createDirectory(dir.resolve("hf"));
        Files.writeString(hf.resolve("config.json"), "{}");
        assertFalse(loader.detect(ModelSource.of(hf)).accepted());
        assertFalse(loader.detect(ModelSource.of(hf.resolve("config.json"))).accepted());
    }

    @Test
    void splitModelsArePickedByTheirFirstPart(@TempDir Path dir) throws Exception {
        Path folder = Files.createDirectory(dir.resolve("split"));
        Files.copy(TestFiles.stories(), folder.resolve("m-00002-of-00002.gguf"));
        Files.copy(TestFiles.stories(), folder.resolve("m-00001-of-00002.gguf"));
        GgufSelection s = GgufSelection.of(ModelSource.of(folder)).orElseThrow();
        assertEquals("m-00001-of-00002.gguf", s.main().getFileName().toString());
        assertEquals(2, s.parts().size());
        assertTrue(loader.detect(ModelSource.of(folder)).reason().contains("2 parts"));
        Files.delete(folder.resolve("m-00002-of-00002.gguf"));
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> loader.load(ModelSource.of(folder), LoaderOptions.validate(loader.options(), Map.of())));
        assertTrue(e.getMessage().contains("m-00002-of-00002.gguf"), e.getMessage());
    }

    @Test
    void corruptFilesNeverReachNativeCode(@TempDir Path dir) throws Exception {
        byte[] all = Files.readAllBytes(TestFiles.stories());
        Path truncated = dir.resolve("truncated.gguf");
        Files.write(truncated, java.util.Arrays.copyOf(all, all.length / 2));
        Detection d = loader.detect(ModelSource.of(truncated));
        assertFalse(d.accepted());
        assertTrue(d.reason().contains("truncated.gguf"), d.reason());
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> loader.load(ModelSource.of(truncated), LoaderOptions.validate(loader.options(), Map.of())));
        assertTrue(e.getMessage().contains("truncated.gguf"), e.getMessage());
        assertFalse(e.fix().isEmpty());
        LOG.log(System.Logger.Level.INFO, "truncated file: " + e.userMessage());

        Path header = dir.resolve("header-only.gguf");
        Files.write(header, java.util.Arrays.copyOf(all, 100));
        e = assertThrows(ModelLoadException.class,
                () -> loader.load(ModelSource.of(header), LoaderOptions.validate(loader.options(), Map.of())));
        assertTrue(e.getMessage().contains("header-only.gguf"), e.getMessage());

        Path empty = Files.createDirectory(dir.resolve("empty"));
        e = assertThrows(ModelLoadException.class,
                () -> loader.load(ModelSource.of(empty), LoaderOptions.validate(loader.options(), Map.of())));
        assertTrue(e.getMessage().contains("No .gguf"), e.getMessage());
    }

    // ---- generation ----

    @Test
    void greedyStoryMatchesTheReference() throws Exception {
        try (LoadedModel m = open(Map.of())) {
            assertArrayEquals(TestFiles.ints(ref, "input_ids"), m.tokenize("Once upon a time", true));
            StringBuilder streamed = new StringBuilder();
            List<Integer> ids = new ArrayList<>();
            GenerationResult r = m.generate(GenerationRequest.greedy("Once upon a time", 30), (id, text) -> {
                ids.add(id);
                streamed.append(text);
                return true;
            });
            assertEquals(GREEDY_30, r.text());
            assertEquals(ref.get("base_greedy_text").getAsString(), r.text());
            assertEquals(GREEDY_30, streamed.toString());
            assertArrayEquals(TestFiles.ints(ref, "base_greedy_ids"), ids.stream().mapToInt(i -> i).toArray());
            assertEquals(StopReason.LENGTH, r.reason());
            assertEquals(5, r.promptTokens());
            assertEquals(30, r.generatedTokens());
            assertEquals("Once upon a time" + GREEDY_30, m.detokenize(m.tokenize("Once upon a time" + GREEDY_30,
                    true)));
            // Again, reusing the KV cache of the first run: same answer.
            assertEquals(GREEDY_30, m.generate(GenerationRequest.greedy("Once upon a time", 30), (i, t) -> true)
                    .text());
            // Without BOS the prompt is one token shorter (and the model sees something else).
            GenerationResult noBos = m.generate(new GenerationRequest("Once upon a time", 3,
                    Map.of(Sampling.DO_SAMPLE, false), List.of(), false, false, ""), (i, t) -> true);
            assertEquals(4, noBos.promptTokens());
            assertEquals(3, noBos.generatedTokens());
        }
    }

    @Test
    void aContinuationReusesTheCacheAndMatchesAFreshRun() throws Exception {
        String prompt2 = "Once upon a time" + GREEDY_30 + " she";
        String fresh;
        try (LoadedModel m = open(Map.of())) {
            fresh = m.generate(GenerationRequest.greedy(prompt2, 20), (i, t) -> true).text();
        }
        try (LoadedModel m = open(Map.of())) {
            m.generate(GenerationRequest.greedy("Once upon a time", 30), (i, t) -> true);
            assertEquals(fresh, m.generate(GenerationRequest.greedy(prompt2, 20), (i, t) -> true).text());
            // A different prompt after that must not see the old cache.
            assertEquals(GREEDY_30, m.generate(GenerationRequest.greedy("Once upon a time", 30), (i, t) -> true)
                    .text());
        }
    }

    @Test
    void stopStringsEndTheTextBeforeThem() throws Exception {
        try (LoadedModel m = open(Map.of())) {
            StringBuilder streamed = new StringBuilder();
            GenerationResult r = collect(m, request("Once upon a time", 30, Map.of(Sampling.DO_SAMPLE, false),
                    List.of("Lily", "zzz"), false), streamed);
            assertEquals(StopReason.STOP_STRING, r.reason());
            assertEquals(", there was a little girl named ", r.text());
            assertEquals(r.text(), streamed.toString());
            // A stop string that spans tokens.
            r = collect(m, request("Once upon a time", 30, Map.of(Sampling.DO_SAMPLE, false), List.of("e park"),
                    false), new StringBuilder());
            assertEquals(", there was a little girl named Lily. She loved to play outside in th", r.text());
        }
    }

    @Test
    void theSinkCanStopAGeneration() throws Exception {
        try (LoadedModel m = open(Map.of())) {
            List<Integer> seen = new ArrayList<>();
            GenerationResult r = m.generate(GenerationRequest.greedy("Once upon a time", 30), (id, text) -> {
                seen.add(id);
                return seen.size() < 3;
            });
            assertEquals(StopReason.CANCELLED, r.reason());
            assertEquals(3, r.generatedTokens());
            assertEquals(3, seen.size());
        }
    }

    @Test
    void endOfSequenceStopsUnlessBanned(@TempDir Path dir) throws Exception {
        // stories260K separates stories with BOS (llama2.c data) and never emits EOS; a copy
        // that declares BOS as its EOS token ends where a story ends.
        Path eosModel = TestFiles.storiesWith(dir.resolve("stories-eos.gguf"),
                Map.of("tokenizer.ggml.eos_token_id", 1L));
        try (LoadedModel m = loader.load(ModelSource.of(eosModel), LoaderOptions.validate(loader.options(),
                Map.of()))) {
            GenerationResult r = m.generate(GenerationRequest.greedy("Once upon a time", 1000), (i, t) -> true);
            assertEquals(StopReason.EOS, r.reason(), r.text());
            assertTrue(r.generatedTokens() < 1000);
            assertFalse(r.text().contains("Once upon a time"), "ran past the end of the story: " + r.text());
            GenerationResult banned = m.generate(request("Once upon a time", r.generatedTokens() + 20,
                    Map.of(Sampling.DO_SAMPLE, false), List.of(), true), (i, t) -> true);
            assertEquals(StopReason.LENGTH, banned.reason());
            assertEquals(r.generatedTokens() + 20, banned.generatedTokens());
            assertTrue(banned.text().startsWith(r.text()), banned.text());
            LOG.log(System.Logger.Level.INFO, "EOS after " + r.generatedTokens() + " tokens");
        }
    }

    @Test
    void aFullContextEndsTheGeneration() throws Exception {
        try (LoadedModel m = open(Map.of(LlamaCppOptions.N_CTX, 64))) {
            int nCtx = m.info().contextLength();
            assertEquals(64, nCtx);
            GenerationResult r = m.generate(request("Once upon a time", 500, Map.of(Sampling.DO_SAMPLE, false),
                    List.of(), true), (i, t) -> true);
            assertEquals(StopReason.CONTEXT_FULL, r.reason());
            // Every position holds a token, and the last sampled token needs no position.
            assertEquals(nCtx - r.promptTokens() + 1, r.generatedTokens());
            String tooLong = "Once upon a time ".repeat(40);
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> m.generate(GenerationRequest.greedy(tooLong, 5), (i, t) -> true));
            assertTrue(e.getMessage().contains("n_ctx=64"), e.getMessage());
        }
    }

    @Test
    void seededSamplingRepeatsAndTheLoadSeedIsTheDefault() throws Exception {
        Map<String, Object> s42 = Map.of(Sampling.SEED, 42L, Sampling.TEMPERATURE, 1.2, Sampling.TOP_P, 0.95,
                Sampling.TOP_K, 50L, Sampling.MIN_P, 0.02, Sampling.REPETITION_PENALTY, 1.15,
                Sampling.PRESENCE_PENALTY, 0.2, Sampling.FREQUENCY_PENALTY, 0.1, Sampling.TYPICAL_P, 0.95,
                Sampling.REPETITION_PENALTY_RANGE, 64L);
        try (LoadedModel m = open(Map.of(LlamaCppOptions.SEED, 7))) {
            String a = m.generate(request("Once upon a time", 40, s42, List.of(), false), (i, t) -> true).text();
            String b = m.generate(request("Once upon a time", 40, s42, List.of(), false), (i, t) -> true).text();
            assertEquals(a, b);
            Map<String, Object> s43 = new HashMap<>(s42);
            s43.put(Sampling.SEED, 43L);
            assertNotEquals(a, m.generate(request("Once upon a time", 40, s43, List.of(), false), (i, t) -> true)
                    .text());
            Map<String, Object> noSeed = Map.of(Sampling.TEMPERATURE, 1.5);
            String c = m.generate(request("Once upon a time", 40, noSeed, List.of(), false), (i, t) -> true).text();
            String d = m.generate(request("Once upon a time", 40, noSeed, List.of(), false), (i, t) -> true).text();
            assertEquals(c, d, "the load option seed=7 makes unseeded requests reproducible");
            Map<String, Object> miro = Map.of(Sampling.MIROSTAT_MODE, 2L, Sampling.MIROSTAT_TAU, 3.0, Sampling.SEED,
                    5L);
            assertEquals(m.generate(request("Once upon a time", 30, miro, List.of(), false), (i, t) -> true).text(),
                    m.generate(request("Once upon a time", 30, miro, List.of(), false), (i, t) -> true).text());
        }
    }

    @Test
    void samplersItCannotApplyAreRefused() throws Exception {
        try (LoadedModel m = open(Map.of())) {
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> m.generate(
                    request("Once", 5, Map.of(Sampling.TFS, 0.9, Sampling.TOP_A, 0.2), List.of(), false),
                    (i, t) -> true));
            assertTrue(e.getMessage().contains("tfs") && e.getMessage().contains("top_a"), e.getMessage());
            e = assertThrows(ModelLoadException.class, () -> m.generate(
                    new GenerationRequest("Once", 5, Map.of(), List.of(), true, false, "bad things"), (i, t) -> true));
            assertTrue(e.getMessage().contains("classifier-free guidance") && e.fix().contains("llamacpp_HF"),
                    e.userMessage());
            e = assertThrows(ModelLoadException.class, () -> m.generate(request("Once", 5, Map.of(
                    Sampling.GUIDANCE_SCALE, 1.5), List.of(), false), (i, t) -> true));
            assertTrue(e.getMessage().contains("guidance_scale=1.5") && e.fix().contains("cfg_cache"),
                    e.userMessage());
            // Neutral values of unsupported samplers are fine.
            assertEquals(StopReason.LENGTH, m.generate(request("Once", 3, Map.of(Sampling.TFS, 1.0), List.of(),
                    false), (i, t) -> true).reason());
        }
        assertEquals(LlamaCppLoader.SAMPLERS, loader.capabilities().samplers());
        assertTrue(loader.capabilities().logits());
    }

    // ---- close ----

    @Test
    void closeDuringGenerationEndsItWithClosed() throws Exception {
        LoadedModel m = open(Map.of());
        CountDownLatch started = new CountDownLatch(1);
        AtomicReference<Object> outcome = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                int[] n = {0};
                outcome.set(m.generate(request("Once upon a time", 100_000, Map.of(Sampling.SEED, 1L), List.of(),
                        true), (id, text) -> {
                            if (++n[0] == 20) {
                                started.countDown();
                            }
                            return true;
                        }));
            } catch (Throwable e) {
                outcome.set(e);
            }
        });
        t.start();
        assertTrue(started.await(30, TimeUnit.SECONDS));
        m.close();
        t.join(10_000);
        assertFalse(t.isAlive());
        GenerationResult r = (GenerationResult) outcome.get();
        assertEquals(StopReason.CLOSED, r.reason());
        assertTrue(r.generatedTokens() >= 20);
        assertEquals(StopReason.CLOSED, m.generate(GenerationRequest.greedy("Once", 5), (i, x) -> true).reason());
        assertThrows(ModelLoadException.class, () -> m.tokenize("Once", true));
        m.close();
    }

    @Test
    void concurrentGenerationsAreSerialised() throws Exception {
        try (LoadedModel m = open(Map.of())) {
            List<Thread> threads = new ArrayList<>();
            List<Object> results = java.util.Collections.synchronizedList(new ArrayList<>());
            for (int i = 0; i < 4; i++) {
                Thread t = new Thread(() -> {
                    try {
                        results.add(m.generate(GenerationRequest.greedy("Once upon a time", 30), (a, b) -> true)
                                .text());
                    } catch (Throwable e) {
                        results.add(e);
                    }
                });
                threads.add(t);
                t.start();
            }
            for (Thread t : threads) {
                t.join(30_000);
            }
            assertEquals(List.of(GREEDY_30, GREEDY_30, GREEDY_30, GREEDY_30), results);
        }
    }

    @Test
    void deactivationClosesEveryModel() throws Exception {
        LlamaCppLoader own = new LlamaCppLoader(library.runtime());
        LoadedModel a = own.load(ModelSource.of(TestFiles.stories()), LoaderOptions.validate(own.options(), Map.of()));
        own.deactivate();
        assertEquals(StopReason.CLOSED, a.generate(GenerationRequest.greedy("Once", 3), (i, t) -> true).reason());
    }

    // ---- logits ----

    @Test
    void logitsMatchTheReference() throws Exception {
        float[] expected = TestFiles.floats(ref, "base_last_logits");
        int[] ids = TestFiles.ints(ref, "input_ids");
        try (LoadedModel m = open(Map.of())) {
            var logits = m.logits().orElseThrow();
            assertEquals(512, logits.vocabSize());
            float[][] last = logits.evaluate(ids, false);
            assertEquals(1, last.length);
            double diff = TestFiles.maxAbsDiff(expected, last[0]);
            LOG.log(System.Logger.Level.INFO, "loader logits (default F16 KV cache) vs reference: max |diff| = "
                    + diff);
            assertTrue(diff < 0.05, "max abs diff " + diff);
            float[][] all = logits.evaluate(ids, true);
            assertEquals(ids.length, all.length);
            assertTrue(TestFiles.maxAbsDiff(all[ids.length - 1], last[0]) < 1e-5);
            // Generation after an evaluation still starts from a correct cache.
            assertEquals(GREEDY_30, m.generate(GenerationRequest.greedy("Once upon a time", 30), (i, t) -> true)
                    .text());
        }
    }

    @Test
    void fp32CacheTypeGivesReferenceLogits() throws Exception {
        float[] expected = TestFiles.floats(ref, "base_last_logits");
        int[] ids = TestFiles.ints(ref, "input_ids");
        try (LoadedModel m = open(Map.of("cache_type", "fp32"))) {
            double diff = TestFiles.maxAbsDiff(expected, m.logits().orElseThrow().evaluate(ids, false)[0]);
            LOG.log(System.Logger.Level.INFO, "loader logits (cache_type=fp32) vs reference: max |diff| = " + diff);
            assertTrue(diff < 1e-4, "max abs diff " + diff);
            assertEquals("fp32", m.info().effectiveOptions().get("cache_type"));
        }
    }

    // ---- options ----

    @Test
    void optionsFollowTextGenerationWebui() {
        List<String> names = loader.options().stream().map(OptionSpec::name).toList();
        assertEquals(List.of("n_ctx", "n_gpu_layers", "tensor_split", "n_batch", "threads", "threads_batch",
                "no_mmap", "mlock", "cache_type", "no_mul_mat_q", "alpha_value", "rope_freq_base", "compress_pos_emb",
                "cpu", "numa", "seed"), names);
        OptionSpec nCtx = loader.options().getFirst();
        assertEquals(0L, nCtx.defaultValue());
        assertTrue(nCtx.help().contains("8192"), nCtx.help());
        assertThrows(ModelLoadException.class, () -> LoaderOptions.validate(loader.options(), Map.of("n_ctx", -1)));
        assertThrows(ModelLoadException.class,
                () -> LoaderOptions.validate(loader.options(), Map.of("n-gpu-layers", 3)));
        assertThrows(ModelLoadException.class, () -> loader.load(ModelSource.of(TestFiles.stories()),
                LoaderOptions.of(Map.of("n_batch", 0))), "the loader re-checks options it is given unchecked");
    }

    @Test
    void optionsWithoutEffectSayWhy() throws Exception {
        boolean gpu = library.runtime().supportsGpuOffload();
        org.junit.jupiter.api.Assumptions.assumeFalse(gpu, "this build has a GPU backend");
        for (String n : List.of("n_gpu_layers", "tensor_split", "cpu", "no_mul_mat_q")) {
            assertTrue(loader.options().stream().filter(o -> o.name().equals(n)).findFirst().orElseThrow()
                    .applies() != null, n);
        }
        try (LoadedModel m = open(Map.of("n_gpu_layers", 20, "tensor_split", "60,40", "no_mul_mat_q", true,
                "cpu", true))) {
            List<String> w = m.info().warnings();
            LOG.log(System.Logger.Level.INFO, "warnings: " + w);
            List<String> options = w.stream().filter(s -> !s.startsWith("llama.cpp: ")).toList();
            assertEquals(4, options.size(), w.toString());
            assertTrue(options.get(0).startsWith("n_gpu_layers=20 had no effect: this llama.cpp build"), w.get(0));
            assertTrue(options.stream().allMatch(s -> s.contains("had no effect")), w.toString());
            assertEquals(0L, m.info().effectiveOptions().get("n_gpu_layers"));
            assertEquals(GREEDY_30, m.generate(GenerationRequest.greedy("Once upon a time", 30), (i, t) -> true)
                    .text());
        }
        try (LoadedModel m = open(Map.of())) {
            // The starter model loads clean: llama.cpp's informational lines about its tokenizer metadata
            // ("bad special token ... = 4294967295", "special_eos_id is not in special_eog_ids") stay in the log.
            assertEquals(List.of(), m.info().warnings());
        }
    }

    @Test
    void contextDefaultsToTheModelsCappedAt8192(@TempDir Path dir) throws Exception {
        try (LoadedModel m = open(Map.of())) {
            assertEquals(2048, m.info().contextLength());
            assertEquals(2048, m.info().trainedContextLength());
            assertEquals(2048L, m.info().effectiveOptions().get("n_ctx"));
            assertEquals("llama.cpp", m.info().loaderId());
            assertEquals(512, m.info().vocabSize());
            assertTrue(m.info().description().contains("llama"), m.info().description());
        }
        Path big = TestFiles.storiesWith(dir.resolve("stories-32k.gguf"), Map.of("llama.context_length", 32768L));
        try (LoadedModel m = loader.load(ModelSource.of(big), LoaderOptions.validate(loader.options(), Map.of()))) {
            assertEquals(8192, m.info().contextLength());
            assertEquals(32768, m.info().trainedContextLength());
        }
        try (LoadedModel m = open(Map.of("n_ctx", 4096))) {
            assertEquals(4096, m.info().contextLength());
            assertTrue(m.info().warnings().stream().anyMatch(w -> w.contains("larger than the context the model was "
                    + "trained with")), m.info().warnings().toString());
        }
    }

    @Test
    void ropeOptionsReachLlamaCpp() throws Exception {
        int[] ids = TestFiles.ints(ref, "input_ids");
        float[] plain;
        try (LoadedModel m = open(Map.of())) {
            plain = m.logits().orElseThrow().evaluate(ids, false)[0];
            assertEquals(10000.0, m.info().effectiveOptions().get("rope_freq_base"));
        }
        try (LoadedModel m = open(Map.of("alpha_value", 2.0))) {
            double base = (double) m.info().effectiveOptions().get("rope_freq_base");
            assertEquals(10000 * Math.pow(2, 64.0 / 63.0), base, 1e-6);
            float[] alpha = m.logits().orElseThrow().evaluate(ids, false)[0];
            assertTrue(TestFiles.maxAbsDiff(plain, alpha) > 1e-3, "alpha_value changed nothing");
        }
        try (LoadedModel m = open(Map.of("rope_freq_base", 10000.0 * Math.pow(2, 64.0 / 63.0)))) {
            try (LoadedModel a = open(Map.of("alpha_value", 2.0))) {
                assertTrue(TestFiles.maxAbsDiff(m.logits().orElseThrow().evaluate(ids, false)[0],
                        a.logits().orElseThrow().evaluate(ids, false)[0]) < 1e-5,
                        "alpha 2 and the equivalent rope_freq_base give the same model");
            }
        }
        try (LoadedModel m = open(Map.of("rope_freq_base", 20000.0, "alpha_value", 3.0))) {
            assertTrue(m.info().warnings().stream().anyMatch(w -> w.startsWith("alpha_value=3.0 had no effect")),
                    m.info().warnings().toString());
        }
        try (LoadedModel m = open(Map.of("compress_pos_emb", 2.0))) {
            float[] linear = m.logits().orElseThrow().evaluate(ids, false)[0];
            assertTrue(TestFiles.maxAbsDiff(plain, linear) > 1e-3, "compress_pos_emb changed nothing");
        }
    }

    @Test
    void numaIsSwitchedOnOnceAndSaysSo() throws Exception {
        long said = 0;
        for (int i = 0; i < 2; i++) {
            try (LoadedModel m = open(Map.of("numa", true))) {
                said += m.info().warnings().stream().filter(w -> w.startsWith("numa: NUMA placement is now on"))
                        .count();
                assertEquals(GREEDY_30, m.generate(GenerationRequest.greedy("Once upon a time", 30), (a, b) -> true)
                        .text());
            }
        }
        assertEquals(1, said, "the first load enables NUMA and says so; the second finds it on");
    }
}
