package io.loadstone.loader.transformers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.testsupport.References;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** PEFT LoRA through the Transformers loader's LoadedModel.setLoras, against PEFT's fp32 outputs. */
class LoraTest {

    private static final System.Logger LOG = System.getLogger(LoraTest.class.getName());

    private static LoadedModel load(String folder, Map<String, ?> options) throws ModelLoadException {
        return TestModels.loader().load(ModelSource.of(TestModels.model(folder)), LoaderOptions.of(options));
    }

    private static float[] lastLogits(LoadedModel m, int[] ids) throws ModelLoadException {
        return m.logits().orElseThrow().evaluate(ids, false)[0];
    }

    private static float maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        float d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    private static float check(LoadedModel m, int[] ids, JsonObject ref, String key, float tolerance) throws ModelLoadException {
        float d = maxAbsDiff(lastLogits(m, ids), TestModels.floats(ref.getAsJsonArray(key)));
        LOG.log(System.Logger.Level.INFO, String.format("Transformers %s %s: max |Δlogit| vs PEFT = %.3g", m.loras(), key, d));
        assertTrue(d <= tolerance, key + ": max |Δlogit| " + d + " > " + tolerance);
        return d;
    }

    private static int[] greedyIds(LoadedModel m, String prompt, int n, StringBuilder text) throws ModelLoadException {
        List<Integer> ids = new ArrayList<>();
        GenerationResult r = m.generate(GenerationRequest.greedy(prompt, n), (id, t) -> ids.add(id));
        text.append(r.text());
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void adaptersMatchPeftAndEmptyRestoresTheBase() throws Exception {
        Path r8 = TestModels.model("stories260K-lora-r8");
        Path r4 = TestModels.model("stories260K-lora-r4-qv");
        JsonObject ref = References.read(r8.resolve("reference.json"));
        JsonObject ref4 = References.read(r4.resolve("reference.json"));
        int[] ids = TestModels.ints(ref.getAsJsonArray("input_ids"));
        String prompt = ref.get("prompt").getAsString();
        try (LoadedModel m = load("stories260K-hf", Map.of("threads", 2))) {
            float[] base = lastLogits(m, ids);

            m.setLoras(List.of(new LoraAdapter("stories260K-lora-r8", r8, 1.0)));
            assertEquals("stories260K-lora-r8", m.loras().get(0).name());
            check(m, ids, ref, "adapter_scale_1_last_logits", 1e-4f);
            StringBuilder text = new StringBuilder();
            assertArrayEquals(TestModels.ints(ref.getAsJsonArray("adapter_greedy_ids")), greedyIds(m, prompt, 30, text));
            assertEquals(ref.get("adapter_greedy_text").getAsString(), text.toString());

            m.setLoras(List.of(new LoraAdapter("stories260K-lora-r8", r8, 0.5)));
            check(m, ids, ref, "adapter_scale_0.5_last_logits", 1e-4f);

            m.setLoras(List.of(new LoraAdapter("r4-qv", r4, 1.0)));
            check(m, ids, ref4, "adapter_scale_1_last_logits", 1e-4f);

            m.setLoras(List.of(new LoraAdapter("r8", r8, 1.0), new LoraAdapter("r4-qv", r4, 1.0)));
            assertEquals(2, m.loras().size());
            check(m, ids, ref, "both_adapters_last_logits", 1e-4f);
            text.setLength(0);
            assertArrayEquals(TestModels.ints(ref.getAsJsonArray("both_adapters_greedy_ids")), greedyIds(m, prompt, 30, text));

            m.setLoras(List.of());
            assertEquals(List.of(), m.loras());
            assertArrayEquals(base, lastLogits(m, ids), "no adapters: the base logits, bit for bit");
            text.setLength(0);
            assertArrayEquals(TestModels.ints(ref.getAsJsonArray("base_greedy_ids")), greedyIds(m, prompt, 30, text));
        }
    }

    /** A change waits for the running generation, which finishes wholly under the set it started with. */
    @Test
    void aChangeWaitsForTheRunningGeneration() throws Exception {
        Path r8 = TestModels.model("stories260K-lora-r8");
        JsonObject ref = References.read(r8.resolve("reference.json"));
        try (LoadedModel m = load("stories260K-hf", Map.of("threads", 1))) {
            java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            var generation = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return m.generate(GenerationRequest.greedy(ref.get("prompt").getAsString(), 30), (id, t) -> {
                        started.countDown();
                        try {
                            return release.await(30, java.util.concurrent.TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            return false;
                        }
                    }).text();
                } catch (ModelLoadException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            assertTrue(started.await(30, java.util.concurrent.TimeUnit.SECONDS));
            var change = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    m.setLoras(List.of(new LoraAdapter("r8", r8, 1.0)));
                } catch (ModelLoadException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            Thread.sleep(200);
            assertTrue(!change.isDone(), "setLoras waits while a generation runs");
            release.countDown();
            assertEquals(ref.get("base_greedy_text").getAsString(), generation.get(30, java.util.concurrent.TimeUnit.SECONDS));
            change.get(30, java.util.concurrent.TimeUnit.SECONDS);
            StringBuilder text = new StringBuilder();
            greedyIds(m, ref.get("prompt").getAsString(), 30, text);
            assertEquals(ref.get("adapter_greedy_text").getAsString(), text.toString());
        }
    }

    @Test
    void loadIn8bitWithAnAdapterStaysClose() throws Exception {
        Path r8 = TestModels.model("stories260K-lora-r8");
        JsonObject ref = References.read(r8.resolve("reference.json"));
        int[] ids = TestModels.ints(ref.getAsJsonArray("input_ids"));
        try (LoadedModel m = load("stories260K-hf", Map.of("threads", 2, "load_in_8bit", true))) {
            float baseDiff = maxAbsDiff(lastLogits(m, ids), TestModels.floats(ref.getAsJsonArray("base_last_logits")));
            m.setLoras(List.of(new LoraAdapter("r8", r8, 1.0)));
            float d = check(m, ids, ref, "adapter_scale_1_last_logits", 0.3f);
            LOG.log(System.Logger.Level.INFO, String.format("Transformers load_in_8bit: base %.3g from transformers, with r8 %.3g from PEFT",
                    baseDiff, d));
        }
    }

    @Test
    void anAdapterForAnotherModelIsRefusedAndThePreviousSetStays() throws Exception {
        Path r8 = TestModels.model("stories260K-lora-r8");
        Path r4 = TestModels.model("stories260K-lora-r4-qv");
        try (LoadedModel m = load("tiny-llama-f32", Map.of("threads", 1))) {
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> m.setLoras(List.of(new LoraAdapter("r8", r8, 1.0))));
            assertTrue(e.getMessage().contains(r8.toString()) && e.getMessage().contains("lora_"), e.getMessage());
            assertTrue(e.fix().contains("different base model"), e.fix());
            assertEquals(List.of(), m.loras());
        }
        try (LoadedModel m = load("stories260K-hf", Map.of("threads", 1))) {
            m.setLoras(List.of(new LoraAdapter("r4-qv", r4, 1.0)));
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> m.setLoras(List.of(new LoraAdapter("model", TestModels.model("stories260K-hf"), 1.0))));
            assertTrue(e.getMessage().contains("adapter_config.json"), e.getMessage());
            assertEquals("r4-qv", m.loras().get(0).name());
        }
    }
}
