package io.loadstone.loader.exllamav2hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.engine.EngineModel;
import io.loadstone.engine.EngineOptions;
import io.loadstone.engine.EngineSession;
import io.loadstone.engine.exl2.Exl2Writer;
import io.loadstone.loader.exllamav2.ExLlamav2Loader;
import io.loadstone.testsupport.Logits;
import io.loadstone.testsupport.NativeLibraries;
import io.loadstone.testsupport.References;
import io.loadstone.testsupport.SharedModels;
import io.loadstone.tokenizer.TokenizerFactory;
import io.loadstone.tokenizer.hf.JniTokenizerLibrary;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both ExLlamav2 loaders on EXL2 folders. No exllamav2-made file exists on these CPU-only machines
 * (exllamav2 needs CUDA for every step), so the folders are the shared stories260K-hf-pad192 written
 * by the engine's test-side EXL2 writer from the documented layout, with a plain F32 folder of the same
 * weights dequantized: the loaders must compute exactly what those weights compute.
 */
class Exl2LoadersTest {

    @TempDir
    static Path tmp;

    private static TokenizerFactory tokenizers;
    private static Path exl2;
    private static Path dequantized;

    @BeforeAll
    static void convert() throws Exception {
        tokenizers = JniTokenizerLibrary.load(NativeLibraries.tokenizers(), "djl-tokenizers-0.36.0");
        exl2 = tmp.resolve("stories260K-exl2-8");
        dequantized = tmp.resolve("dequantized");
        Exl2Writer.convert(SharedModels.model("stories260K-hf-pad192"), exl2, 8, dequantized);
    }

    private static LoadedModel load(ModelLoader l, Map<String, Object> options) throws ModelLoadException {
        return l.load(ModelSource.of(exl2), LoaderOptions.validate(l.options(), options));
    }

    private static float[] dequantizedLogits(int[] ids) throws ModelLoadException {
        try (EngineModel m = EngineModel.open(dequantized, EngineOptions.builder().threads(2).build());
                EngineSession s = m.newSession()) {
            return s.forward(ids);
        }
    }

    @Test
    void exl2RanksTheExLlamav2LoadersAndNoOther() {
        assertEquals(90, new ExLlamav2HfLoader(tokenizers).detect(ModelSource.of(exl2)).score());
        assertEquals(88, new ExLlamav2Loader(tokenizers).detect(ModelSource.of(exl2)).score());
        Detection d = new ExLlamav2HfLoader(tokenizers).detect(ModelSource.of(SharedModels.model(
                "stories260K-gptq-8bit-32g-sym")));
        assertEquals(0, d.score());
        assertTrue(d.reason().contains("4-bit GPTQ only") && d.reason().contains("AutoGPTQ"), d.reason());
    }

    @Test
    void theHfLoaderComputesWhatTheDequantizedWeightsCompute() throws Exception {
        JsonObject p = References.read(SharedModels.model("stories260K-hf-pad192").resolve("reference.json"))
                .getAsJsonArray("prompts").get(0).getAsJsonObject();
        int[] ids = References.ints(p.getAsJsonArray("input_ids"));
        try (LoadedModel m = load(new ExLlamav2HfLoader(tokenizers), Map.of("threads", 2))) {
            float[] got = m.logits().orElseThrow().evaluate(ids, false)[0];
            double kernel = Logits.maxAbsDiff(dequantizedLogits(ids), got);
            assertTrue(kernel <= 2e-4, "packed EXL2 vs its dequantized weights: " + kernel);
            // 8 bits: the unquantized model's greedy story (the engine's own EXL2 test bounds the logits).
            String text = m.generate(GenerationRequest.greedy(p.get("prompt").getAsString(), 30), (i, t) -> true).text();
            assertEquals(p.get("greedy_full_text").getAsString(), p.get("prompt").getAsString() + text);
            assertTrue(m.info().description().contains("EXL2"), m.info().description());
        }
    }

    @Test
    void theNativeLoaderGeneratesTheSameStoryWithoutLogits() throws Exception {
        JsonObject p = References.read(SharedModels.model("stories260K-hf-pad192").resolve("reference.json"))
                .getAsJsonArray("prompts").get(1).getAsJsonObject();
        try (LoadedModel m = load(new ExLlamav2Loader(tokenizers), Map.of("threads", 2))) {
            assertTrue(m.logits().isEmpty());
            String text = m.generate(GenerationRequest.greedy(p.get("prompt").getAsString(), 30), (i, t) -> true).text();
            assertEquals(p.get("greedy_full_text").getAsString(), p.get("prompt").getAsString() + text);
        }
    }

    @Test
    void cache8bitStoresTheKvCacheInFp8AndTheDriftIsMeasured() throws Exception {
        int[] ids = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376};
        ExLlamav2HfLoader l = new ExLlamav2HfLoader(tokenizers);
        float[] exact;
        try (LoadedModel m = load(l, Map.of("threads", 2))) {
            exact = m.logits().orElseThrow().evaluate(ids, false)[0];
        }
        try (LoadedModel m = load(l, Map.of("threads", 2, "cache_8bit", true))) {
            assertEquals(true, m.info().effectiveOptions().get("cache_8bit"));
            float[] fp8 = m.logits().orElseThrow().evaluate(ids, false)[0];
            double drift = Logits.maxAbsDiff(exact, fp8);
            System.getLogger(Exl2LoadersTest.class.getName()).log(System.Logger.Level.INFO,
                    "cache_8bit (FP8 E5M2 KV cache) on stories260K EXL2 8-bit, 10 tokens: max |Δlogit| " + drift);
            assertTrue(drift > 0 && drift < 5, "FP8 cache moves the logits, within the engine's stated ~3: " + drift);
        }
    }

    @Test
    void cfgNeedsTheCfgCacheAndTheNativeLoaderHasNone() throws Exception {
        Map<String, Object> cfg = Map.of("do_sample", false, "guidance_scale", 2.0);
        try (LoadedModel m = load(new ExLlamav2HfLoader(tokenizers), Map.of("threads", 2))) {
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> m.generate(new GenerationRequest(
                    "Once", 5, cfg, java.util.List.of(), true, false, "x"), (i, t) -> true));
            assertTrue(e.getMessage().contains("cfg_cache is off"), e.getMessage());
        }
        try (LoadedModel m = load(new ExLlamav2HfLoader(tokenizers), Map.of("threads", 2, "cfg_cache", true))) {
            assertEquals(5, m.generate(new GenerationRequest("Once", 5, cfg, java.util.List.of(), true, false, "x"),
                    (i, t) -> true).generatedTokens());
        }
        assertTrue(!new ExLlamav2Loader(tokenizers).capabilities().cfg());
    }
}
