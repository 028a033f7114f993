package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceRegistration;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import io.loadstone.api.runtime.ModelEvent;
import io.loadstone.api.runtime.ModelEventListener;
import io.loadstone.api.runtime.ModelManager;

/**
 * The OpenAI API as clients such as Open WebUI use it, over real HTTP: a listed model that is
 * not loaded is loaded by the request that names it (once, however many requests arrive during
 * the load), {@code created} is the file's time, text-generation-webui's tokenizer and
 * stop-generation endpoints, logprobs checked against transformers' logits for the same model,
 * and a non-streamed completion that stops when its client hangs up.
 */
class OpenAiClientsTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String GGUF = "stories260K.gguf";

    private ModelManager manager;
    private Bundle echo;
    private WebServer web;
    private Path models;
    private final List<ModelEvent> events = new CopyOnWriteArrayList<>();
    private ServiceRegistration<ModelEventListener> listener;

    @BeforeEach
    void setUp() throws Exception {
        models = Framework.workDir("openai-clients-models");
        Files.createDirectories(models.resolve("echo-story"));
        Files.writeString(models.resolve("echo-story/echo-model.txt"), OpenAiApiTest.TEXT);
        Files.createDirectories(models.resolve("echo-other"));
        Files.writeString(models.resolve("echo-other/echo-model.txt"), "alpha beta gamma");
        Files.copy(Framework.testBundle(GGUF), models.resolve(GGUF));
        manager = Framework.useModels(models, "max.loaded.models", 2);
        echo = Framework.startEchoLoader(manager);
        listener = Framework.context().registerService(ModelEventListener.class, events::add, null);
        web = WebServer.start();
    }

    @AfterEach
    void tearDown() throws Exception {
        listener.unregister();
        if (echo != null && echo.getState() != Bundle.UNINSTALLED) {
            echo.uninstall();
        }
    }

    private static JsonObject obj(HttpResponse<String> r) {
        return WebServer.json(r).getAsJsonObject();
    }

    private long loadsOf(String model) {
        return events.stream().filter(e -> e.type() == ModelEvent.Type.LOADING && model.equals(e.model())).count();
    }

    @Test
    void concurrentRequestsForAnUnloadedModelWaitForOneLoad() throws Exception {
        // Saved settings make the load slow (and prove on-demand loads use them).
        manager.saveSettings("echo-story", "itest-echo", Map.of("load_ms", 1500, "delay_ms", 1));
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            all.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return web.post("v1/completions", "{\"model\":\"echo-story\",\"prompt\":\"x\",\"max_tokens\":3}");
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }));
            Thread.sleep(100);
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        for (var f : all) {
            HttpResponse<String> r = f.get();
            assertEquals(200, r.statusCode(), r.body());
            assertEquals("the quick brown", obj(r).getAsJsonArray("choices").get(0).getAsJsonObject().get("text")
                    .getAsString());
        }
        assertEquals(1, loadsOf("echo-story"), "four requests during one load, one load: " + events);
        assertEquals(1L, manager.loaded("echo-story").orElseThrow().info().effectiveOptions().get("delay_ms"),
                "loaded with the saved settings");

        // A second model on demand; the first stays (max.loaded.models 2), chat works the same way.
        var r = web.post("v1/chat/completions", "{\"model\":\"echo-other\",\"max_tokens\":2,\"messages\":"
                + "[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(2, manager.loaded().size());
    }

    @Test
    void onDemandLoadingCanBeTurnedOffAndUnknownModelsStay404() throws Exception {
        web = WebServer.start("load.on.demand", false);
        var r = web.post("v1/completions", "{\"model\":\"echo-story\",\"prompt\":\"x\"}");
        assertEquals(409, r.statusCode(), r.body());
        assertTrue(r.body().contains("load.on.demand"), "says which setting: " + r.body());
        assertTrue(manager.loaded().isEmpty());
        web = WebServer.start();
        r = web.post("v1/completions", "{\"model\":\"gpt-4\",\"prompt\":\"x\"}");
        assertEquals(404, r.statusCode(), r.body());
        assertTrue(manager.loaded().isEmpty(), "nothing loaded for an unknown name");
    }

    @Test
    void createdIsTheFileTime() throws Exception {
        long t = 1_700_000_000L;
        Files.setLastModifiedTime(models.resolve(GGUF), java.nio.file.attribute.FileTime.fromMillis(t * 1000));
        JsonArray data = obj(web.get("v1/models")).getAsJsonArray("data");
        boolean seen = false;
        for (var e : data) {
            JsonObject m = e.getAsJsonObject();
            assertTrue(m.get("created").getAsLong() > 0, "created is never 0: " + m);
            if (m.get("id").getAsString().equals(GGUF)) {
                assertEquals(t, m.get("created").getAsLong());
                seen = true;
            }
        }
        assertTrue(seen, data.toString());
        manager.load(GGUF, "llama.cpp", Map.of("n_ctx", 256));
        assertEquals(t, obj(web.get("v1/models/" + GGUF)).get("created").getAsLong(), "loading does not change it");
    }

    @Test
    void tokenizerEndpointsAsInTextGenerationWebui() throws Exception {
        manager.load(GGUF, "llama.cpp", Map.of("n_ctx", 256));
        // Ids from transformers' tokenizer for this model (shared/models/stories260K-hf-pad192/reference.json).
        JsonObject enc = obj(web.post("v1/internal/encode", "{\"text\":\"Once upon a time\"}"));
        assertEquals("[1,403,407,261,378]", enc.getAsJsonArray("tokens").toString());
        assertEquals(5, enc.get("length").getAsInt());
        assertEquals(5, obj(web.post("v1/internal/token-count", "{\"text\":\"Once upon a time\"}")).get("length")
                .getAsInt());
        String text = obj(web.post("v1/internal/decode", "{\"tokens\":[403,407,261,378]}")).get("text")
                .getAsString();
        assertEquals("Once upon a time", text.strip());
        var r = web.post("v1/internal/decode", "{\"tokens\":[403,99999]}");
        assertEquals(400, r.statusCode(), r.body());
        assertEquals("tokens[1]", obj(r).getAsJsonObject("error").get("param").getAsString());
        assertEquals(400, web.post("v1/internal/encode", "{}").statusCode());
    }

    @Test
    void stopGenerationEndsWhatIsRunning() throws Exception {
        manager.load("echo-story", null, Map.of("delay_ms", 20));
        CompletableFuture<HttpResponse<String>> running = CompletableFuture.supplyAsync(() -> {
            try {
                return web.post("v1/completions", "{\"prompt\":\"x\",\"max_tokens\":100000}");
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        Framework.await("generation running", WAIT, () -> web.running("echo-story") == 1);
        var r = web.post("v1/internal/stop-generation", "");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("\"OK\"", r.body());
        // 100000 words at 20 ms each would take half an hour: only the stop ends it.
        HttpResponse<String> done = running.get(20, TimeUnit.SECONDS);
        assertEquals(200, done.statusCode(), done.body());
        JsonObject c = JsonParser.parseString(done.body()).getAsJsonObject();
        assertTrue(c.getAsJsonObject("usage").get("completion_tokens").getAsInt() < 100000, done.body());
        // The next request is served normally.
        r = web.post("v1/completions", "{\"prompt\":\"x\",\"max_tokens\":2}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(2, obj(r).getAsJsonObject("usage").get("completion_tokens").getAsInt());
    }

    @Test
    void nonStreamedCompletionStopsWhenItsClientHangsUp() throws Exception {
        manager.load("echo-story", null, Map.of("delay_ms", 50));
        byte[] b = "{\"prompt\":\"x\",\"max_tokens\":100000}".getBytes(StandardCharsets.UTF_8);
        try (Socket s = new Socket("127.0.0.1", web.base.getPort())) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(b);
            out.flush();
            Framework.await("generation running", WAIT, () -> web.running("echo-story") == 1);
        }
        // 100000 words at 50 ms each would take over an hour: only noticing the hang-up ends it.
        Framework.await("generation stopped after the client left", WAIT, () -> web.running("echo-story") == 0);
        assertTrue(manager.loaded("echo-story").isPresent());
    }

    @Test
    void logprobsAgreeWithTransformersLogits() throws Exception {
        String shared = Framework.context().getProperty("loadstone.shared.models");
        Path ref = Path.of(shared, "stories260K-hf-pad192", "reference.json");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isRegularFile(ref), "shared models absent: " + ref);
        JsonObject prompt = JsonParser.parseString(Files.readString(ref)).getAsJsonObject().getAsJsonArray("prompts")
                .get(0).getAsJsonObject();
        assertEquals("Once upon a time", prompt.get("prompt").getAsString());
        JsonArray last = prompt.getAsJsonArray("last_logits");
        double max = Double.NEGATIVE_INFINITY;
        for (var v : last) {
            max = Math.max(max, v.getAsDouble());
        }
        double sum = 0;
        for (var v : last) {
            sum += Math.exp(v.getAsDouble() - max);
        }
        double lse = max + Math.log(sum);
        int greedy = prompt.getAsJsonArray("greedy_ids").get(0).getAsInt();
        double expected = last.get(greedy).getAsDouble() - lse;

        // F32 KV cache: llama.cpp's logits within ~1e-5 of transformers' for this model.
        manager.load(GGUF, "llama.cpp", Map.of("n_ctx", 256, "cache_type", "fp32"));
        var r = web.post("v1/completions", "{\"model\":\"" + GGUF + "\",\"prompt\":\"Once upon a time\","
                + "\"max_tokens\":3,\"temperature\":0,\"logprobs\":5}");
        assertEquals(200, r.statusCode(), r.body());
        JsonObject lp = obj(r).getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("logprobs");
        assertEquals(3, lp.getAsJsonArray("tokens").size(), lp.toString());
        assertEquals(expected, lp.getAsJsonArray("token_logprobs").get(0).getAsDouble(), 1e-4, lp.toString());
        JsonObject top = lp.getAsJsonArray("top_logprobs").get(0).getAsJsonObject();
        assertEquals(5, top.size(), top.toString());
        double best = top.entrySet().stream().mapToDouble(e -> e.getValue().getAsDouble()).max().orElseThrow();
        assertEquals(expected, best, 1e-4, "greedy picked the most likely token: " + top);
        assertEquals(0, lp.getAsJsonArray("text_offset").get(0).getAsInt());

        // Streamed: one chunk per token, each with that token's logprobs, the same values as unstreamed.
        List<String> events = web.sse("v1/completions", "{\"model\":\"" + GGUF + "\",\"prompt\":\"Once upon a "
                + "time\",\"max_tokens\":3,\"temperature\":0,\"logprobs\":5,\"stream\":true}");
        assertEquals("[DONE]", events.get(events.size() - 1));
        List<JsonObject> chunks = events.subList(0, events.size() - 2).stream().map(e -> JsonParser.parseString(e)
                .getAsJsonObject().getAsJsonArray("choices").get(0).getAsJsonObject()).toList();
        assertEquals(3, chunks.size(), events.toString());
        StringBuilder streamed = new StringBuilder();
        for (int i = 0; i < 3; i++) {
            JsonObject clp = chunks.get(i).getAsJsonObject("logprobs");
            assertEquals(lp.getAsJsonArray("tokens").get(i), clp.getAsJsonArray("tokens").get(0), clp.toString());
            assertEquals(lp.getAsJsonArray("token_logprobs").get(i).getAsDouble(), clp.getAsJsonArray(
                    "token_logprobs").get(0).getAsDouble(), 1e-4, clp.toString());
            assertEquals(lp.getAsJsonArray("text_offset").get(i), clp.getAsJsonArray("text_offset").get(0));
            assertEquals(5, clp.getAsJsonArray("top_logprobs").get(0).getAsJsonObject().size(), clp.toString());
            streamed.append(chunks.get(i).get("text").getAsString());
        }
        assertEquals(String.join("", lp.getAsJsonArray("tokens").asList().stream().map(t -> t.getAsString())
                .toList()), streamed.toString());
        assertEquals("length", JsonParser.parseString(events.get(events.size() - 2)).getAsJsonObject()
                .getAsJsonArray("choices").get(0).getAsJsonObject().get("finish_reason").getAsString());

        r = web.post("v1/chat/completions", "{\"model\":\"" + GGUF + "\",\"max_tokens\":2,\"temperature\":0,"
                + "\"logprobs\":true,\"top_logprobs\":3,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(200, r.statusCode(), r.body());
        JsonArray content = obj(r).getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("logprobs")
                .getAsJsonArray("content");
        assertEquals(2, content.size(), content.toString());
        JsonObject first = content.get(0).getAsJsonObject();
        assertTrue(first.get("logprob").getAsDouble() <= 0, first.toString());
        assertEquals(3, first.getAsJsonArray("top_logprobs").size(), first.toString());
        assertFalse(first.getAsJsonArray("bytes").isEmpty(), first.toString());
        events = web.sse("v1/chat/completions", "{\"model\":\"" + GGUF + "\",\"max_tokens\":2,\"temperature\":0,"
                + "\"logprobs\":true,\"top_logprobs\":3,\"stream\":true,\"messages\":[{\"role\":\"user\","
                + "\"content\":\"hi\"}]}");
        // the role chunk, two token chunks, the finish chunk, [DONE]
        assertEquals(5, events.size(), events.toString());
        for (int i = 0; i < 2; i++) {
            JsonObject choice = JsonParser.parseString(events.get(1 + i)).getAsJsonObject().getAsJsonArray("choices")
                    .get(0).getAsJsonObject();
            JsonObject token = choice.getAsJsonObject("logprobs").getAsJsonArray("content").get(0).getAsJsonObject();
            assertEquals(content.get(i).getAsJsonObject().get("token"), token.get("token"), token.toString());
            assertEquals(content.get(i).getAsJsonObject().get("logprob").getAsDouble(), token.get("logprob")
                    .getAsDouble(), 1e-4, token.toString());
            assertEquals(3, token.getAsJsonArray("top_logprobs").size(), token.toString());
            assertEquals(token.get("token").getAsString(), choice.getAsJsonObject("delta").get("content").getAsString());
        }

        // A loader without logits says so instead of answering without them.
        manager.load("echo-story", null, Map.of());
        r = web.post("v1/completions", "{\"model\":\"echo-story\",\"prompt\":\"x\",\"logprobs\":2}");
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(r.body().contains("exposes no logits"), r.body());
    }

}
