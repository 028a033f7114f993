package io.loadstone.loader.llamacpphf;

import io.loadstone.testsupport.LoraAdapters;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.gson.JsonObject;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.Sampling;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.runner.RunnerLaunch;
import io.loadstone.llamacpp.runner.RunnerRuntime;
import io.loadstone.testsupport.References;

/**
 * LoRA through {@link LoadedModel#setLoras} on the llamacpp_HF loader, against PEFT's logits, with
 * the CFG context (cfg_cache) running on the same adapted weights.
 */
class SetLorasHfTest {

    private static final System.Logger LOG = System.getLogger(SetLorasHfTest.class.getName());
    private static final double TOLERANCE = 1e-4;
    private static final String PROMPT = "Once upon a time";

    private static LlamaLibrary library;
    private static LlamaCppHfLoader loader;
    private static Path folder;
    private static JsonObject r8ref;
    private static int[] ids;

    @BeforeAll
    static void setUp(@TempDir Path dir) throws Exception {
        library = RunnerRuntime.start(RunnerLaunch.outsideOsgi(TestFiles.library(), "llama.cpp-b4916")).asLibrary();
        folder = TestFiles.hfFolder(dir.resolve("stories260K-HF"));
        loader = new LlamaCppHfLoader(library.runtime(), TestFiles.tokenizers(), dir.resolve("home"),
                LlamaCppHfConfig.DEFAULT_TOKENIZER_DIR, dir.resolve("lora-cache"));
        r8ref = References.read(LoraAdapters.r8().resolve("reference.json"));
        ids = References.ints(r8ref.getAsJsonArray("input_ids"));
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

    private static LoadedModel open(boolean cfgCache) throws ModelLoadException {
        return loader.load(ModelSource.of(folder), LoaderOptions.validate(loader.options(), Map.of("cache_type",
                "fp32", "n_ctx", 256, "threads", 1, "threads_batch", 1, LlamaCppHfOptions.CFG_CACHE, cfgCache)));
    }

    private static float[] last(LoadedModel m) throws ModelLoadException {
        return m.logits().orElseThrow().evaluate(ids, false)[0];
    }

    private static void check(String what, float[] got, String key) {
        double d = TestFiles.maxAbsDiff(References.floats(r8ref.getAsJsonArray(key)), got);
        LOG.log(System.Logger.Level.INFO, "llamacpp_HF loader, " + what + ": max |logit - PEFT| = " + d);
        assertTrue(d < TOLERANCE, what + ": max |logit - PEFT| = " + d);
    }

    private static LoraAdapter r8(double scale) {
        return new LoraAdapter("stories260K-lora-r8", LoraAdapters.r8(), scale);
    }

    private static LoraAdapter r4() {
        return new LoraAdapter("stories260K-lora-r4-qv", LoraAdapters.r4(), 1);
    }

    private static String text(LoadedModel m, GenerationRequest r) throws ModelLoadException {
        return m.generate(r, (i, t) -> true).text();
    }

    @Test
    void adaptersAndScalesMatchPeftAndNoneRestoresTheBaseExactly() throws Exception {
        try (LoadedModel m = open(false)) {
            assertArrayEquals(ids, m.tokenize(PROMPT, true));
            float[] base = last(m);
            check("base", base, "base_last_logits");
            m.setLoras(List.of(r8(1)));
            check("r8 scale 1", last(m), "adapter_scale_1_last_logits");
            m.setLoras(List.of(r8(0.5)));
            check("r8 scale 0.5", last(m), "adapter_scale_0.5_last_logits");
            m.setLoras(List.of(r4(), r8(1)));
            assertEquals(List.of(r4(), r8(1)), m.loras());
            check("r4-qv + r8", last(m), "both_adapters_last_logits");
            m.setLoras(List.of());
            assertArrayEquals(base, last(m), "no adapters: exactly the base logits again");
        }
    }

    @Test
    void switchingFreesWhatIsNoLongerApplied() throws Exception {
        try (LoadedModel m = open(true)) {
            LlamaCppHfModel hm = (LlamaCppHfModel) m;
            for (int i = 0; i < 20; i++) {
                m.setLoras(List.of(r8(1), r4()));
                assertEquals(2, hm.loadedLoraCount());
                m.setLoras(List.of(r4()));
                assertEquals(1, hm.loadedLoraCount());
                m.setLoras(List.of());
                assertEquals(0, hm.loadedLoraCount());
            }
            m.setLoras(List.of(r8(1), r4()));
            check("r8 + r4-qv after 20 cycles", last(m), "both_adapters_last_logits");
        }
    }

    @Test
    void theCfgContextRunsOnTheAdaptedWeightsAndForgetsItsCache() throws Exception {
        String adapted = r8ref.get("adapter_greedy_text").getAsString();
        String base = r8ref.get("base_greedy_text").getAsString();
        // Negative prompt = prompt: uncond + s·(cond − uncond) = cond only when both contexts have the
        // same weights and neither reuses keys and values computed before the change.
        GenerationRequest guided = new GenerationRequest(PROMPT, 30, Map.of(Sampling.DO_SAMPLE, false,
                Sampling.GUIDANCE_SCALE, 3.0), List.of(), true, false, PROMPT);
        try (LoadedModel m = open(true)) {
            assertEquals(base, text(m, guided));
            m.setLoras(List.of(r8(1)));
            assertEquals(adapted, text(m, guided));
            assertEquals(adapted, text(m, GenerationRequest.greedy(PROMPT, 30)));
            m.setLoras(List.of());
            assertEquals(base, text(m, guided));
        }
    }

    @Test
    void aLongPromptAfterAChangeIsNotContinuedFromTheOldKeysAndValues() throws Exception {
        String prompt = r8ref.get("base_greedy_full_text").getAsString() + " She saw a big dog and";
        GenerationRequest r = GenerationRequest.greedy(prompt, 20);
        String fresh;
        try (LoadedModel m = open(false)) {
            m.setLoras(List.of(r8(1)));
            fresh = text(m, r);
        }
        try (LoadedModel m = open(false)) {
            String base = text(m, r);
            assertNotEquals(base, fresh);
            m.setLoras(List.of(r8(1)));
            assertEquals(fresh, text(m, r));
        }
    }

    @Test
    void foreignAndCorruptAdaptersAreRefusedAndThePreviousSetStays(@TempDir Path dir) throws Exception {
        Path wide = LoraAdapters.foreign(dir.resolve("wide-lora"), Map.of(LoraAdapters.Q.formatted(0, "A"),
                new long[] {8, 128}, LoraAdapters.Q.formatted(0, "B"), new long[] {128, 8}));
        Path noise = LoraAdapters.damaged(dir.resolve("noise"), LoraAdapters::noise);
        try (LoadedModel m = open(true)) {
            m.setLoras(List.of(r8(1)));
            float[] before = last(m);
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> m.setLoras(List.of(new LoraAdapter("wide", wide, 1))));
            assertTrue(e.getMessage().contains("wide-lora") && e.getMessage().contains("another model")
                    && e.getMessage().contains("hidden size 64"), e.getMessage());
            e = assertThrows(ModelLoadException.class,
                    () -> m.setLoras(List.of(r8(1), new LoraAdapter("noise", noise, 1))));
            assertTrue(e.getMessage().contains("not a safetensors file"), e.getMessage());
            assertEquals(List.of(r8(1)), m.loras());
            assertEquals(1, ((LlamaCppHfModel) m).loadedLoraCount());
            assertArrayEquals(before, last(m));
            assertEquals(r8ref.get("adapter_greedy_text").getAsString(),
                    text(m, GenerationRequest.greedy(PROMPT, 30)));
        }
    }
}
