package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.Sampling;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelEntry;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.gguf.GgufWriter;

/**
 * The ctransformers loader bundle in a running framework with the llama.cpp loaders beside it:
 * the models list ranks it first for the non-llama GGUF fixtures (each with its architecture) and
 * leaves llama-family files to llama.cpp; it reproduces transformers' greedy ids and logits (F32
 * KV cache) through the model manager and its greedy text over the OpenAI API; legacy GGML files
 * and an architecture b4916 cannot run get HTTP 4xx answers naming the reason and the fix.
 */
class CtransformersLoaderTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    /** Fixture folder, GGUF file, general.architecture, logit tolerance (from each fixture's README). */
    private record Fixture(String folder, String file, String architecture, double tolerance) {
    }

    private static final List<Fixture> FIXTURES = List.of(
            new Fixture("tiny-gpt2-gguf", "tiny-gpt2-f32.gguf", "gpt2", 2e-3),
            new Fixture("tiny-starcoder-gguf", "tiny-gpt-bigcode-f32.gguf", "starcoder", 2e-3),
            new Fixture("tiny-falcon-gguf", "tiny-falcon-f32.gguf", "falcon", 2e-3),
            new Fixture("tiny-mpt-gguf", "tiny-mpt-f32.gguf", "mpt", 3e-3),
            new Fixture("tiny-gptneox-gguf", "tiny-gpt-neox-f32.gguf", "gptneox", 2e-3));

    private ModelManager manager;
    private WebServer web;
    private Path shared;

    @BeforeEach
    void setUp() throws Exception {
        String s = Framework.context().getProperty("loadstone.shared.models");
        assumeTrue(s != null && Files.isDirectory(Path.of(s, "tiny-gpt2-gguf")), "shared models absent: " + s);
        shared = Path.of(s);
        Path models = Framework.workDir("ctransformers-models");
        for (Fixture f : FIXTURES) {
            Path dir = Files.createDirectories(models.resolve(f.folder()));
            Files.copy(shared.resolve(f.folder()).resolve(f.file()), dir.resolve(f.file()));
        }
        Files.copy(Framework.testBundle("stories260K.gguf"), models.resolve("stories260K.gguf"));
        Path ggml = Files.createDirectories(models.resolve("old-ggml"));
        Files.write(ggml.resolve("ggml-model-q4_0.bin"), new byte[] {'t', 'j', 'g', 'g', 3, 0, 0, 0});
        new GgufWriter().putString("general.architecture", "gptj").write(models.resolve("gpt-j.gguf"));
        manager = Framework.useModels(models, "max.loaded.models", 1);
        web = WebServer.start();
        Framework.await("ctransformers and llama.cpp loaders", WAIT, () -> hasLoader("ctransformers")
                && hasLoader("llama.cpp"));
        Framework.await("all models listed", WAIT, () -> manager.models().size() == FIXTURES.size() + 3);
    }

    @AfterEach
    void tearDown() {
        if (manager != null) {
            manager.loaded().forEach(st -> manager.unload(st.name()));
        }
    }

    private boolean hasLoader(String id) {
        return manager.loaders().stream().map(LoaderInfo::id).anyMatch(id::equals);
    }

    private JsonObject reference(Fixture f) throws Exception {
        return JsonParser.parseString(Files.readString(shared.resolve(f.folder()).resolve("reference.json")))
                .getAsJsonObject();
    }

    private static int[] ints(JsonArray a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsInt();
        }
        return out;
    }

    @Test
    void theModelsListRanksCtransformersForNonLlamaGgufAndShowsTheArchitecture() throws Exception {
        JsonArray listed = web.state().getAsJsonArray("models");
        for (Fixture f : FIXTURES) {
            JsonObject m = find(listed, f.folder());
            assertEquals("ctransformers", m.get("best").getAsString(), m.toString());
            JsonArray candidates = m.getAsJsonArray("candidates");
            assertTrue(candidates.get(0).getAsJsonObject().get("reason").getAsString().contains("architecture "
                    + f.architecture()), m.toString());
            assertEquals("llama.cpp", candidates.get(1).getAsJsonObject().get("loader").getAsString(),
                    "llama.cpp can still run it: " + m);
        }
        assertEquals("llama.cpp", find(listed, "stories260K.gguf").get("best").getAsString(),
                "llama-family GGUF stays llama.cpp's");

        ModelEntry gptj = entry("gpt-j.gguf");
        assertTrue(gptj.candidates().isEmpty(), gptj.toString());
        assertTrue(gptj.hint().contains("architecture 'gptj' cannot run on llama.cpp-b4916"), gptj.hint());
        ModelEntry ggml = entry("old-ggml");
        assertTrue(ggml.candidates().isEmpty(), ggml.toString());
        assertTrue(ggml.hint().contains("The ctransformers loader cannot load it: ggml-model-q4_0.bin is a legacy "
                + "GGML file (magic 'ggjt')") && ggml.hint().contains("convert_llama_ggml_to_gguf.py"), ggml.hint());
    }

    private ModelEntry entry(String name) {
        return manager.models().stream().filter(m -> m.name().equals(name)).findFirst().orElseThrow();
    }

    private static JsonObject find(JsonArray models, String name) {
        for (JsonElement e : models) {
            if (e.getAsJsonObject().get("name").getAsString().equals(name)) {
                return e.getAsJsonObject();
            }
        }
        throw new AssertionError(name + " not listed: " + models);
    }

    @Test
    void everyFixtureGivesTransformersGreedyIdsAndLogits() throws Exception {
        for (Fixture f : FIXTURES) {
            manager.load(f.folder(), null, Map.of("n_ctx", 128, "threads", 2, "cache_type", "fp32"));
            assertEquals("ctransformers", manager.loaded(f.folder()).orElseThrow().info().loaderId());
            double worst = 0;
            for (JsonElement e : reference(f).getAsJsonArray("prompts")) {
                JsonObject p = e.getAsJsonObject();
                int[] expected = ints(p.getAsJsonArray("greedy_ids"));
                List<Integer> ids = new ArrayList<>();
                GenerationResult r = manager.generate(f.folder(), new GenerationRequest(p.get("prompt").getAsString(),
                        expected.length, Map.of(Sampling.DO_SAMPLE, false), List.of(), false, false, ""),
                        (id, piece) -> ids.add(id));
                assertArrayEquals(expected, ids.stream().limit(r.generatedTokens()).mapToInt(Integer::intValue)
                        .toArray(), f.file() + ": " + p.get("prompt"));

                int[] input = ints(p.getAsJsonArray("input_ids"));
                float[][] all = manager.logits(f.folder()).evaluate(input, true);
                JsonArray want = p.getAsJsonArray("all_logits");
                for (int i = 0; i < all.length; i++) {
                    JsonArray row = want.get(i).getAsJsonArray();
                    for (int v = 0; v < row.size(); v++) {
                        worst = Math.max(worst, Math.abs(row.get(v).getAsFloat() - all[i][v]));
                    }
                }
            }
            assertTrue(worst < f.tolerance(), f.file() + ": max |logit - transformers| " + worst);
            manager.unload(f.folder());
        }
    }

    @Test
    void overHttpItLoadsGeneratesAndRefusesWithReasons() throws Exception {
        Fixture gpt2 = FIXTURES.getFirst();
        HttpResponse<String> r = web.post("v1/internal/model/load", "{\"model_name\":\"" + gpt2.folder()
                + "\",\"args\":{\"loader\":\"ctransformers\",\"model_type\":\"gpt2\",\"n_ctx\":128}}");
        assertEquals(200, r.statusCode(), r.body());
        JsonObject info = WebServer.json(web.get("v1/internal/model/info")).getAsJsonObject();
        assertEquals("ctransformers", info.get("loader").getAsString(), info.toString());

        JsonObject first = reference(gpt2).getAsJsonArray("prompts").get(0).getAsJsonObject();
        HttpResponse<String> greedy = web.post("v1/completions", "{\"prompt\":\"" + first.get("prompt")
                .getAsString() + "\",\"max_tokens\":30,\"temperature\":0,\"add_bos_token\":false}");
        assertEquals(200, greedy.statusCode(), greedy.body());
        JsonObject c = WebServer.json(greedy).getAsJsonObject();
        assertEquals(30, c.getAsJsonObject("usage").get("completion_tokens").getAsInt(), c.toString());
        StringBuilder inFramework = new StringBuilder();
        manager.generate(gpt2.folder(), new GenerationRequest(first.get("prompt").getAsString(), 30, Map.of(
                Sampling.DO_SAMPLE, false), List.of(), false, false, ""), (id, piece) -> inFramework.append(piece)
                        != null);
        assertEquals(inFramework.toString(), c.getAsJsonArray("choices").get(0).getAsJsonObject().get("text")
                .getAsString());

        HttpResponse<String> minP = web.post("v1/completions", "{\"prompt\":\"x\",\"max_tokens\":2,\"min_p\":0.1}");
        assertEquals(400, minP.statusCode(), minP.body());
        assertTrue(minP.body().contains("min_p"), minP.body());

        HttpResponse<String> contradiction = web.post("v1/internal/model/load", "{\"model_name\":\"tiny-falcon-gguf\","
                + "\"args\":{\"loader\":\"ctransformers\",\"model_type\":\"mpt\"}}");
        // A contradicting option is the caller's mistake (ModelLoadException.Reason.INVALID_OPTION): 400 naming it.
        assertEquals(400, contradiction.statusCode(), contradiction.body());
        assertTrue(contradiction.body().contains("model_type=mpt") && contradiction.body().contains("'falcon'"),
                contradiction.body());

        HttpResponse<String> ggml = web.post("v1/internal/model/load", "{\"model_name\":\"old-ggml\",\"args\":{"
                + "\"loader\":\"ctransformers\"}}");
        assertTrue(ggml.statusCode() >= 400 && ggml.statusCode() < 500, ggml.statusCode() + " " + ggml.body());
        assertTrue(ggml.body().contains("legacy GGML file (magic 'ggjt')") && ggml.body().contains(
                "convert_llama_ggml_to_gguf.py"), ggml.body());

        HttpResponse<String> gptj = web.post("v1/internal/model/load", "{\"model_name\":\"gpt-j.gguf\",\"args\":{"
                + "\"loader\":\"ctransformers\"}}");
        assertTrue(gptj.statusCode() >= 400 && gptj.statusCode() < 500, gptj.statusCode() + " " + gptj.body());
        assertTrue(gptj.body().contains("cannot run on llama.cpp-b4916"), gptj.body());
        assertEquals(200, web.get("v1/models").statusCode(), "the server lives");
    }
}
