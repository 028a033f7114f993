package io.loadstone.loader.llamacpp;

import io.loadstone.testsupport.LoraAdapters;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.gson.JsonObject;

import io.loadstone.llamacpp.loading.SamplerChainModel;
import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.runner.RunnerLaunch;
import io.loadstone.llamacpp.runner.RunnerRuntime;
import io.loadstone.testsupport.References;

/**
 * LoRA through {@link LoadedModel#setLoras} on the llama.cpp loader, against PEFT's logits for
 * the same prompt (reference.json of the shared adapters).
 */
class SetLorasTest {

    private static final System.Logger LOG = System.getLogger(SetLorasTest.class.getName());
    /** cache_type=fp32: llama.cpp and PyTorch agree to ~1e-5 (LoraTest measures the same through the runtime). */
    private static final double TOLERANCE = 1e-4;
    private static final String PROMPT = "Once upon a time";

    private static LlamaLibrary library;
    private static LlamaCppLoader loader;
    private static Path cache;
    private static JsonObject r8ref;
    private static JsonObject r4ref;
    private static int[] ids;

    @BeforeAll
    static void setUp(@TempDir Path dir) throws Exception {
        library = RunnerRuntime.start(RunnerLaunch.outsideOsgi(TestFiles.library(), "llama.cpp-b4916")).asLibrary();
        cache = dir.resolve("lora-cache");
        loader = new LlamaCppLoader(library.runtime(), cache);
        r8ref = References.read(LoraAdapters.r8().resolve("reference.json"));
        r4ref = References.read(LoraAdapters.r4().resolve("reference.json"));
        ids = TestFiles.ints(r8ref, "input_ids");
    }

    @AfterAll
    static void tearDown() {
        if (loader != null) {
            loader.deactivate();
        }
        if (library != null) {
            library.close();
        }
    }

    private static LoadedModel open() throws ModelLoadException {
        return loader.load(ModelSource.of(TestFiles.stories()), LoaderOptions.validate(loader.options(),
                Map.of("cache_type", "fp32", "n_ctx", 256, "threads", 1, "threads_batch", 1)));
    }

    private static float[] last(LoadedModel m) throws ModelLoadException {
        return m.logits().orElseThrow().evaluate(ids, false)[0];
    }

    private static double check(String what, float[] got, JsonObject ref, String key) {
        double d = TestFiles.maxAbsDiff(TestFiles.floats(ref, key), got);
        LOG.log(System.Logger.Level.INFO, "llama.cpp loader, " + what + ": max |logit - PEFT| = " + d);
        assertTrue(d < TOLERANCE, what + ": max |logit - PEFT| = " + d);
        return d;
    }

    private static LoraAdapter r8(double scale) {
        return new LoraAdapter("stories260K-lora-r8", LoraAdapters.r8(), scale);
    }

    private static LoraAdapter r4() {
        return new LoraAdapter("stories260K-lora-r4-qv", LoraAdapters.r4(), 1);
    }

    private static String greedy(LoadedModel m) throws ModelLoadException {
        return m.generate(GenerationRequest.greedy(PROMPT, 30), (i, t) -> true).text();
    }

    @Test
    void saysMulti() {
        assertEquals(Capabilities.LoraSupport.MULTI, loader.capabilities().lora());
    }

    @Test
    void adaptersAndScalesMatchPeftAndNoneRestoresTheBaseExactly() throws Exception {
        try (LoadedModel m = open()) {
            float[] base = last(m);
            check("base", base, r8ref, "base_last_logits");
            m.setLoras(List.of(r8(1)));
            assertEquals(List.of(r8(1)), m.loras());
            check("r8 scale 1", last(m), r8ref, "adapter_scale_1_last_logits");
            m.setLoras(List.of(r8(0.5)));
            check("r8 scale 0.5", last(m), r8ref, "adapter_scale_0.5_last_logits");
            m.setLoras(List.of(r8(1), r4()));
            check("r8 + r4-qv", last(m), r8ref, "both_adapters_last_logits");
            m.setLoras(List.of(r4()));
            check("r4-qv alone", last(m), r4ref, "adapter_scale_1_last_logits");
            m.setLoras(List.of());
            assertEquals(List.of(), m.loras());
            assertArrayEquals(base, last(m), "no adapters: exactly the base logits again");
        }
    }

    @Test
    void switchingFreesWhatIsNoLongerApplied() throws Exception {
        try (LoadedModel m = open()) {
            SamplerChainModel lm = (SamplerChainModel) m;
            float[] both = null;
            for (int i = 0; i < 25; i++) {
                m.setLoras(List.of(r8(1)));
                assertEquals(1, lm.loadedLoraCount());
                m.setLoras(List.of(r8(1), r4()));
                assertEquals(2, lm.loadedLoraCount());
                float[] now = last(m);
                if (both != null) {
                    assertArrayEquals(both, now, "cycle " + i);
                }
                both = now;
                m.setLoras(List.of(r4()));
                assertEquals(1, lm.loadedLoraCount());
                m.setLoras(List.of());
                assertEquals(0, lm.loadedLoraCount());
            }
            check("r8 + r4-qv after 25 cycles", both, r8ref, "both_adapters_last_logits");
            // Converted once per base model: one cached file per adapter.
            try (Stream<Path> s = Files.list(cache)) {
                assertEquals(2, s.filter(p -> p.toString().endsWith(".gguf")).count());
            }
        }
    }

    @Test
    void aGenerationAfterAChangeFollowsTheNewWeights() throws Exception {
        try (LoadedModel m = open()) {
            assertEquals(r8ref.get("base_greedy_text").getAsString(), greedy(m));
            m.setLoras(List.of(r8(1)));
            // Same prompt: without forgetting the KV-prefix cache the prompt's keys and values would
            // be those of the base weights.
            assertEquals(r8ref.get("adapter_greedy_text").getAsString(), greedy(m));
            assertEquals(r8ref.get("adapter_greedy_text").getAsString(), greedy(m), "reused cache, same weights");
            m.setLoras(List.of(r8(1), r4()));
            assertEquals(r8ref.get("both_adapters_greedy_text").getAsString(), greedy(m));
            m.setLoras(List.of());
            assertEquals(r8ref.get("base_greedy_text").getAsString(), greedy(m));
        }
    }

    @Test
    void aLongPromptAfterAChangeIsNotContinuedFromTheOldKeysAndValues() throws Exception {
        // A long prompt that was evaluated before the change: all but its last token would be reused
        // from the KV-prefix cache if the change did not forget it.
        String prompt = r8ref.get("base_greedy_full_text").getAsString() + " She saw a big dog and";
        GenerationRequest r = GenerationRequest.greedy(prompt, 20);
        String fresh;
        try (LoadedModel m = open()) {
            m.setLoras(List.of(r8(1)));
            fresh = m.generate(r, (i, t) -> true).text();
        }
        String base;
        try (LoadedModel m = open()) {
            base = m.generate(r, (i, t) -> true).text();
            assertNotEquals(base, fresh, "the adapter changes this continuation");
            m.setLoras(List.of(r8(1)));
            assertEquals(fresh, m.generate(r, (i, t) -> true).text());
            m.setLoras(List.of());
            assertEquals(base, m.generate(r, (i, t) -> true).text());
        }
        LOG.log(System.Logger.Level.INFO, "long prompt, base: '" + base + "', r8: '" + fresh + "'");
    }

    @Test
    void anAdapterForAnotherModelIsRefusedAndThePreviousSetStays(@TempDir Path dir) throws Exception {
        // stories260K has hidden size 64 and 5 layers.
        Path wide = LoraAdapters.foreign(dir.resolve("wide-lora"), Map.of(LoraAdapters.Q.formatted(0, "A"),
                new long[] {8, 128}, LoraAdapters.Q.formatted(0, "B"), new long[] {128, 8}));
        Path deep = LoraAdapters.foreign(dir.resolve("deep-lora"), Map.of(LoraAdapters.Q.formatted(9, "A"),
                new long[] {8, 64}, LoraAdapters.Q.formatted(9, "B"), new long[] {64, 8}));
        try (LoadedModel m = open()) {
            m.setLoras(List.of(r8(1)));
            float[] before = last(m);
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> m.setLoras(List.of(r8(1), new LoraAdapter("wide", wide, 1))));
            LOG.log(System.Logger.Level.INFO, "foreign adapter: " + e.getMessage() + " / " + e.fix());
            assertTrue(e.getMessage().contains("wide-lora") && e.getMessage().contains("another model")
                    && e.getMessage().contains("128x128") && e.getMessage().contains("hidden size 64"),
                    e.getMessage());
            assertTrue(e.fix().contains("base_model_name_or_path=stories260K-hf"), e.fix());
            assertEquals(List.of(r8(1)), m.loras());
            assertArrayEquals(before, last(m), "the previous set stays applied");
            assertEquals(1, ((SamplerChainModel) m).loadedLoraCount());

            e = assertThrows(ModelLoadException.class, () -> m.setLoras(List.of(new LoraAdapter("deep", deep, 1))));
            assertTrue(e.getMessage().contains("blk.9.attn_q.weight") && e.getMessage().contains("5 layers"),
                    e.getMessage());
            assertArrayEquals(before, last(m));
            assertEquals(r8ref.get("adapter_greedy_text").getAsString(), greedy(m));
        }
    }

    @Test
    void aCorruptAdapterIsRefusedBeforeNativeCode(@TempDir Path dir) throws Exception {
        Path nan = LoraAdapters.damaged(dir.resolve("nan"), LoraAdapters::withNaN);
        Path header = LoraAdapters.damaged(dir.resolve("header"), LoraAdapters::withNoisyHeader);
        Path noise = LoraAdapters.damaged(dir.resolve("noise"), LoraAdapters::noise);
        Path cut = LoraAdapters.damaged(dir.resolve("cut"), b -> java.util.Arrays.copyOf(b, b.length / 2));
        Path empty = Files.createDirectories(dir.resolve("empty"));
        try (LoadedModel m = open()) {
            m.setLoras(List.of(r4()));
            float[] before = last(m);
            for (Path bad : List.of(nan, header, noise, cut, empty)) {
                ModelLoadException e = assertThrows(ModelLoadException.class,
                        () -> m.setLoras(List.of(new LoraAdapter(bad.getFileName().toString(), bad, 1))));
                LOG.log(System.Logger.Level.INFO, bad.getFileName() + ": " + e.getMessage() + " / " + e.fix());
                assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
                assertFalse(e.fix().isBlank(), bad + ": a fix");
                assertEquals(List.of(r4()), m.loras());
                assertArrayEquals(before, last(m), bad + ": the previous set stays");
            }
            try (Stream<Path> s = Files.list(cache)) {
                assertTrue(s.noneMatch(p -> p.toString().endsWith(".part")), "no half-written conversions left");
            }
            assertThrows(ModelLoadException.class, () -> m.setLoras(List.of(r8(1), r8(0.5))), "listed twice");
        }
    }

    @Test
    void aRunningGenerationFinishesWithTheAdaptersItStartedWith() throws Exception {
        try (LoadedModel m = open()) {
            java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch proceed = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
            try {
                var generation = pool.submit(() -> m.generate(GenerationRequest.greedy(PROMPT, 30), (i, t) -> {
                    started.countDown();
                    try {
                        proceed.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return true;
                }).text());
                assertTrue(started.await(10, java.util.concurrent.TimeUnit.SECONDS));
                var change = pool.submit(() -> {
                    m.setLoras(List.of(r8(1)));
                    return null;
                });
                Thread.sleep(200);
                assertFalse(change.isDone(), "setLoras waits for the running generation");
                proceed.countDown();
                assertEquals(r8ref.get("base_greedy_text").getAsString(), generation.get(10,
                        java.util.concurrent.TimeUnit.SECONDS));
                change.get(10, java.util.concurrent.TimeUnit.SECONDS);
                assertEquals(r8ref.get("adapter_greedy_text").getAsString(), greedy(m));
            } finally {
                proceed.countDown();
                pool.shutdownNow();
            }
        }
    }

    @Test
    void aClosedModelRefuses() throws Exception {
        LoadedModel m = open();
        m.close();
        assertThrows(ModelLoadException.class, () -> m.setLoras(List.of(r8(1))));
        assertNotEquals(null, m.loras());
    }
}
