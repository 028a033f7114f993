package io.loadstone.loader.transformers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.Sampling;
import io.loadstone.api.loader.StopReason;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Generation, logits and closing on the real stories260K checkpoints against transformers' outputs. */
class GenerationTest {

    private static final System.Logger LOG = System.getLogger(GenerationTest.class.getName());

    private static LoadedModel load(String folder, Map<String, ?> options) throws ModelLoadException {
        return TestModels.loader().load(ModelSource.of(TestModels.model(folder)), LoaderOptions.of(options));
    }

    private static GenerationRequest request(String prompt, int max, Map<String, Object> sampling, List<String> stop,
            boolean banEos, String negative) {
        return new GenerationRequest(prompt, max, sampling, stop, true, banEos, negative);
    }

    @ParameterizedTest
    @ValueSource(strings = {"stories260K-hf", "stories260K-hf-f16", "stories260K-hf-bf16"})
    void greedyStoryMatchesTransformersAndStreamsTheSameText(String folder) throws Exception {
        JsonObject ref = TestModels.reference();
        try (LoadedModel m = load(folder, Map.of("threads", 2))) {
            StringBuilder streamed = new StringBuilder();
            List<Integer> ids = new ArrayList<>();
            GenerationResult r = m.generate(GenerationRequest.greedy(ref.get("prompt").getAsString(), 30),
                    (id, text) -> {
                        ids.add(id);
                        streamed.append(text);
                        return true;
                    });
            assertEquals(ref.get("base_greedy_text").getAsString(), r.text(), folder);
            assertEquals(r.text(), streamed.toString(), "streamed pieces add up to the result");
            assertArrayEquals(TestModels.ints(ref.getAsJsonArray("base_greedy_ids")),
                    ids.stream().mapToInt(Integer::intValue).toArray());
            assertEquals(StopReason.LENGTH, r.reason());
            assertEquals(30, r.generatedTokens());
            assertEquals(5, r.promptTokens());
        }
    }

    @Test
    void tokenizeMatchesTransformersInputIds() throws Exception {
        JsonObject ref = TestModels.reference();
        try (LoadedModel m = load("stories260K-hf", Map.of())) {
            int[] ids = m.tokenize(ref.get("prompt").getAsString(), true);
            assertArrayEquals(TestModels.ints(ref.getAsJsonArray("input_ids")), ids);
            assertEquals(ref.get("base_greedy_full_text").getAsString(),
                    m.detokenize(java.util.stream.IntStream.concat(java.util.Arrays.stream(ids).skip(1),
                            java.util.Arrays.stream(TestModels.ints(ref.getAsJsonArray("base_greedy_ids")))).toArray()));
        }
    }

    @Test
    void lastLogitsMatchTransformers() throws Exception {
        JsonObject ref = TestModels.reference();
        float[] expected = TestModels.floats(ref.getAsJsonArray("base_last_logits"));
        try (LoadedModel m = load("stories260K-hf", Map.of())) {
            var access = m.logits().orElseThrow();
            assertEquals(expected.length, access.vocabSize());
            int[] ids = TestModels.ints(ref.getAsJsonArray("input_ids"));
            float[][] last = access.evaluate(ids, false);
            float[][] all = access.evaluate(ids, true);
            assertEquals(1, last.length);
            assertEquals(ids.length, all.length);
            double diff = 0;
            for (int i = 0; i < expected.length; i++) {
                diff = Math.max(diff, Math.abs(last[0][i] - expected[i]));
            }
            LOG.log(System.Logger.Level.INFO, "stories260K-hf last logits vs transformers: max abs diff " + diff);
            assertTrue(diff < 1e-4, "max abs diff " + diff);
            assertArrayEquals(last[0], all[ids.length - 1], 1e-5f);
        }
    }

    @Test
    void stopStringEndsGenerationAndIsNotEmitted() throws Exception {
        try (LoadedModel m = load("stories260K-hf", Map.of())) {
            StringBuilder streamed = new StringBuilder();
            GenerationResult r = m.generate(request("Once upon a time", 30, Map.of(Sampling.DO_SAMPLE, false),
                    List.of(" Lily"), false, ""), (id, t) -> streamed.append(t) != null);
            assertEquals(", there was a little girl named", r.text());
            assertEquals(r.text(), streamed.toString());
            assertEquals(StopReason.STOP_STRING, r.reason());
        }
    }

    @Test
    void fullContextStopsGeneration() throws Exception {
        try (LoadedModel m = load("stories260K-hf", Map.of("max_seq_len", 8))) {
            assertEquals(8, m.info().contextLength());
            GenerationResult r = m.generate(GenerationRequest.greedy("Once upon a time", 30), (id, t) -> true);
            assertEquals(StopReason.CONTEXT_FULL, r.reason());
            // 5 prompt positions + 3 generated positions fill 8; the 4th token is sampled from the last logits.
            assertEquals(4, r.generatedTokens());
            assertEquals(", there was a", r.text());
        }
    }

    @Test
    void sinkReturningFalseCancels() throws Exception {
        try (LoadedModel m = load("stories260K-hf", Map.of())) {
            GenerationResult r = m.generate(GenerationRequest.greedy("Once upon a time", 30), (id, t) -> false);
            assertEquals(StopReason.CANCELLED, r.reason());
            assertEquals(1, r.generatedTokens());
        }
    }

    @Test
    void seededSamplingRepeatsAndSeedsDiffer() throws Exception {
        try (LoadedModel m = load("stories260K-hf", Map.of())) {
            Map<String, Object> s1 = Map.of(Sampling.TEMPERATURE, 1.5, Sampling.SEED, 7L);
            Map<String, Object> s2 = Map.of(Sampling.TEMPERATURE, 1.5, Sampling.SEED, 8L);
            String a = m.generate(request("Once upon a time", 40, s1, List.of(), true, ""), (i, t) -> true).text();
            String b = m.generate(request("Once upon a time", 40, s1, List.of(), true, ""), (i, t) -> true).text();
            String c = m.generate(request("Once upon a time", 40, s2, List.of(), true, ""), (i, t) -> true).text();
            assertEquals(a, b);
            assertNotEquals(a, c);
        }
    }

    @Test
    void guidanceWithTheSamePromptIsPlainGreedyAndAnotherNegativePromptChangesIt() throws Exception {
        JsonObject ref = TestModels.reference();
        try (LoadedModel m = load("stories260K-hf", Map.of())) {
            Map<String, Object> cfg = Map.of(Sampling.DO_SAMPLE, false, Sampling.GUIDANCE_SCALE, 3.0);
            // uncond + s·(cond − uncond) = cond when both sides see the same tokens.
            GenerationResult same = m.generate(request("Once upon a time", 30, cfg, List.of(), false,
                    "Once upon a time"), (i, t) -> true);
            assertEquals(ref.get("base_greedy_text").getAsString(), same.text());
            GenerationResult other = m.generate(request("Once upon a time", 30, cfg, List.of(), false,
                    "The dog was sad"), (i, t) -> true);
            assertNotEquals(same.text(), other.text());
            assertEquals(30, other.generatedTokens());
        }
    }

    @Test
    void closeDuringGenerationEndsItWithClosed() throws Exception {
        LoadedModel m = load("stories260K-hf", Map.of("max_seq_len", 2048));
        CountDownLatch running = new CountDownLatch(1);
        AtomicInteger tokens = new AtomicInteger();
        CompletableFuture<GenerationResult> gen = CompletableFuture.supplyAsync(() -> {
            try {
                return m.generate(request("Once upon a time", 2000, Map.of(Sampling.DO_SAMPLE, false), List.of(),
                        true, ""), (id, t) -> {
                            if (tokens.incrementAndGet() == 5) {
                                running.countDown();
                            }
                            return true;
                        });
            } catch (ModelLoadException e) {
                throw new RuntimeException(e);
            }
        });
        assertTrue(running.await(60, TimeUnit.SECONDS), "generation started");
        m.close();
        GenerationResult r = gen.get(60, TimeUnit.SECONDS);
        assertEquals(StopReason.CLOSED, r.reason());
        assertTrue(r.generatedTokens() >= 5 && r.generatedTokens() < 2000, "stopped early: " + r.generatedTokens());
        assertEquals(StopReason.CLOSED, m.generate(GenerationRequest.greedy("x", 3), (i, t) -> true).reason());
        assertThrows(ModelLoadException.class, () -> m.tokenize("x", true));
        assertThrows(ModelLoadException.class, () -> m.logits().orElseThrow().evaluate(new int[] {1}, false));
        m.close();
    }

    @Test
    void eosEndsGenerationUnlessBanned(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        // The story model never ends a story within reach greedily, so make "." (id 426, the 11th greedy
        // token) an end-of-sequence id the way models list several: generation_config.json eos_token_id.
        java.nio.file.Path dir = TestModels.copy(TestModels.model("stories260K-hf"), tmp.resolve("eos"));
        java.nio.file.Files.writeString(dir.resolve("generation_config.json"),
                "{\"bos_token_id\": 1, \"eos_token_id\": [2, 426]}");
        JsonObject ref = TestModels.reference();
        try (LoadedModel m = TestModels.loader().load(ModelSource.of(dir), LoaderOptions.of(Map.of()))) {
            GenerationResult ended = m.generate(GenerationRequest.greedy("Once upon a time", 30), (i, t) -> true);
            assertEquals(StopReason.EOS, ended.reason());
            assertEquals(10, ended.generatedTokens(), "the EOS token itself is not counted or emitted");
            assertEquals(", there was a little girl named Lily", ended.text());
            List<Integer> ids = new ArrayList<>();
            GenerationResult banned = m.generate(request("Once upon a time", 30, Map.of(Sampling.DO_SAMPLE, false),
                    List.of(), true, ""), (i, t) -> ids.add(i));
            assertEquals(StopReason.LENGTH, banned.reason());
            assertTrue(ids.stream().noneMatch(i -> i == 426 || i == 2), "banned EOS ids never come out: " + ids);
            assertTrue(banned.text().startsWith(ended.text()), banned.text());
            assertNotEquals(ref.get("base_greedy_text").getAsString(), banned.text());
        }
    }
}
