package io.loadstone.llamacpp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import io.loadstone.llamacpp.runner.RunnerRuntime;

/**
 * Architectures b4916 does not know, on llama.cpp v0.5.0 in a runner process: the tiny Qwen3 and
 * Qwen3-MoE GGUFs (made by v0.5.0's own converter) against transformers' logits in their
 * reference.json, every position of every prompt, and their 30-token greedy continuations; and LoRA
 * through the call v0.5.0 replaced set/rm/clear with.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class V050NewArchitecturesTest {

    private static final System.Logger LOG = System.getLogger(V050NewArchitecturesTest.class.getName());

    private RunnerRuntime runtime;

    @BeforeAll
    void start() throws Exception {
        runtime = TestFiles.runner(TestFiles.libraryV050(), TestFiles.V050);
    }

    @AfterAll
    void stop() {
        if (runtime != null) {
            runtime.close();
        }
    }

    /** What the README's check used: F32 K/V cache, flash attention off (it casts K/V to F16), 2 threads. */
    private static ContextParams exact() {
        return ContextParams.defaults().withContext(256).withThreads(2, 2).withCache(CacheType.F32, CacheType.F32);
    }

    @ParameterizedTest
    @CsvSource({"tiny-qwen3-gguf, tiny-qwen3-f32.gguf, qwen3", "tiny-qwen3moe-gguf, tiny-qwen3moe-f32.gguf, qwen3moe"})
    void logitsAndGreedyIdsMatchTransformers(String folder, String file, String architecture) throws Exception {
        Path dir = TestFiles.models().resolve(folder);
        JsonObject ref = TestFiles.reference(folder);
        assertTrue(!exact().flashAttention(), "the reference tolerance holds with flash attention off");
        try (NativeModel m = runtime.open(dir.resolve(file), ModelParams.defaults(), exact())) {
            assertEquals(architecture, m.metadata("general.architecture").orElseThrow());
            double worst = 0;
            int prompts = 0;
            for (JsonElement e : ref.getAsJsonArray("prompts")) {
                JsonObject p = e.getAsJsonObject();
                int[] ids = TestFiles.ints(p, "input_ids");
                assertArrayEquals(ids, m.tokenize(p.get("prompt").getAsString(), true, false), "tokenizer");
                m.clearKvCache();
                float[][] all = m.decodeAll(ids, 0);
                var expected = p.getAsJsonArray("all_logits");
                assertEquals(ids.length, all.length);
                for (int i = 0; i < ids.length; i++) {
                    float[] want = io.loadstone.testsupport.References.floats(expected.get(i).getAsJsonArray());
                    worst = Math.max(worst, TestFiles.maxAbsDiff(want, all[i]));
                }
                int[] greedy = TestFiles.ints(p, "greedy_ids");
                int[] got = new int[greedy.length];
                try (TokenSampler s = m.newSampler(SamplerParams.greedyDecoding())) {
                    for (int i = 0; i < got.length; i++) {
                        got[i] = s.sample();
                        m.decode(new int[] {got[i]}, ids.length + i);
                    }
                }
                assertArrayEquals(greedy, got, "greedy ids of '" + p.get("prompt").getAsString() + "'");
                prompts++;
            }
            LOG.log(System.Logger.Level.INFO, folder + ": max |logit - transformers| over every position of "
                    + prompts + " prompts = " + worst);
            // The README measured 3.5e-6 with these settings; the logits spread with std 0.9.
            assertTrue(worst < 2e-5, folder + ": max abs logit difference " + worst);
            assertEquals(3, prompts);
        }
    }

    /**
     * LoRA through v0.5.0's llama_set_adapters_lora (which replaced set/rm/clear): the stories260K
     * adapters converted from PEFT, against PEFT's logits for r8 alone, r8 at 0.5, r8 + r4-qv, none.
     */
    @org.junit.jupiter.api.Test
    void loraAdaptersMatchPeft(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        JsonObject ref = TestFiles.reference("stories260K-lora-r8");
        io.loadstone.gguf.GgufFile base = io.loadstone.gguf.GgufFile.read(TestFiles.stories());
        Path r8 = dir.resolve("r8.gguf");
        Path r4 = dir.resolve("r4.gguf");
        io.loadstone.llamacpp.loading.PeftLoraConverter.convert(TestFiles.models().resolve("stories260K-lora-r8"),
                base, r8);
        io.loadstone.llamacpp.loading.PeftLoraConverter.convert(TestFiles.models().resolve("stories260K-lora-r4-qv"),
                base, r4);
        int[] ids = TestFiles.ints(ref, "input_ids");
        try (NativeModel m = runtime.open(TestFiles.stories(), ModelParams.defaults(), ContextParams.defaults()
                .withContext(128).withThreads(1, 1).withCache(CacheType.F32, CacheType.F32))) {
            LoraAdapter a8 = m.loadLora(r8);
            LoraAdapter a4 = m.loadLora(r4);
            m.setLora(a8, 1f);
            assertClose(ref, "adapter_scale_1_last_logits", last(m, ids));
            m.setLora(a8, 0.5f);
            assertClose(ref, "adapter_scale_0.5_last_logits", last(m, ids));
            m.setLora(a8, 1f);
            m.setLora(a4, 1f);
            assertClose(ref, "both_adapters_last_logits", last(m, ids));
            assertTrue(m.removeLora(a4));
            assertTrue(!m.removeLora(a4), "not active any more");
            assertClose(ref, "adapter_scale_1_last_logits", last(m, ids));
            m.clearLoras();
            assertClose(ref, "base_last_logits", last(m, ids));
        }
    }

    private static float[] last(NativeModel m, int[] ids) throws LlamaException {
        m.clearKvCache();
        m.decode(ids, 0);
        return m.lastLogits();
    }

    private static void assertClose(JsonObject ref, String key, float[] got) {
        double diff = TestFiles.maxAbsDiff(TestFiles.floats(ref, key), got);
        LOG.log(System.Logger.Level.INFO, "v0.5.0 LoRA " + key + ": max |logit - PEFT| = " + diff);
        assertTrue(diff < 1e-4, key + ": " + diff);
    }
}
