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
 * reference.json, every position of every prompt, and their 30-token greedy continuations.
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
}
