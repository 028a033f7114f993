package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
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

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import io.loadstone.api.runtime.ModelManager;

/**
 * The OpenAI-compatible API over real HTTP on 127.0.0.1, against the real runtime with the
 * echo test loader: listing, completions, chat, streaming, errors with proper status codes
 * (the server stays up), fair FIFO queueing, and cancellation when a client disconnects.
 */
class OpenAiApiTest {

    private static final Duration WAIT = Duration.ofSeconds(20);
    static final String TEXT = "the quick brown fox jumps over the lazy dog";

    private ModelManager manager;
    private Bundle echo;
    private WebServer web;

    @BeforeEach
    void setUp() throws Exception {
        Path models = Framework.workDir("openai-models");
        Path m = Files.createDirectories(models.resolve("echo-story"));
        Files.writeString(m.resolve("echo-model.txt"), TEXT);
        Files.createDirectories(models.resolve("echo-other"));
        Files.writeString(models.resolve("echo-other/echo-model.txt"), "alpha beta gamma");
        manager = Framework.useModels(models, "max.loaded.models", 2);
        echo = Framework.startEchoLoader(manager);
        web = WebServer.start();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (echo != null && echo.getState() != Bundle.UNINSTALLED) {
            echo.uninstall();
        }
    }

    private static JsonObject obj(HttpResponse<String> r) {
        return WebServer.json(r).getAsJsonObject();
    }

    private static String firstText(JsonObject completion) {
        return completion.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString();
    }

    /** Asserts an OpenAI-style error with this status, and returns its error object. */
    private static JsonObject error(HttpResponse<String> r, int status) {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), r.headers()
                .toString());
        JsonObject e = obj(r).getAsJsonObject("error");
        assertNotNull(e, r.body());
        assertFalse(e.get("message").getAsString().isBlank(), r.body());
        assertTrue(e.has("type") && e.has("param") && e.has("code"), r.body());
        return e;
    }

    @Test
    void listsModelsAndCompletes() throws Exception {
        var r = web.get("v1/models");
        assertEquals(200, r.statusCode(), r.body());
        JsonObject list = obj(r);
        assertEquals("list", list.get("object").getAsString());
        assertEquals(2, list.getAsJsonArray("data").size(), r.body());

        manager.load("echo-story", null, Map.of());
        list = obj(web.get("v1/models"));
        JsonObject first = list.getAsJsonArray("data").get(0).getAsJsonObject();
        assertEquals("echo-story", first.get("id").getAsString(), "the loaded model is listed first");
        assertEquals("model", first.get("object").getAsString());
        assertTrue(first.get("loaded").getAsBoolean());
        assertEquals("echo-story", obj(web.get("v1/models/echo-story")).get("id").getAsString());

        r = web.post("v1/completions", "{\"model\":\"echo-story\",\"prompt\":\"x\",\"max_tokens\":3}");
        assertEquals(200, r.statusCode(), r.body());
        JsonObject c = obj(r);
        assertEquals("the quick brown", firstText(c));
        assertEquals("text_completion", c.get("object").getAsString());
        assertTrue(c.get("id").getAsString().startsWith("cmpl-"));
        assertEquals("length", c.getAsJsonArray("choices").get(0).getAsJsonObject().get("finish_reason")
                .getAsString());
        assertEquals(3, c.getAsJsonObject("usage").get("completion_tokens").getAsInt());

        // Without "model" the most recently loaded one answers; OpenAI's default length is 16 tokens.
        c = obj(web.post("v1/completions", "{\"prompt\":\"x\",\"echo\":true}"));
        assertEquals(16, c.getAsJsonObject("usage").get("completion_tokens").getAsInt());
        assertTrue(firstText(c).startsWith("xthe quick"), "echo puts the prompt first: " + firstText(c));

        r = web.post("v1/chat/completions", "{\"model\":\"echo-story\",\"max_tokens\":4,\"temperature\":0,"
                + "\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":"
                + "[{\"type\":\"text\",\"text\":\"Hi\"}]}]}");
        assertEquals(200, r.statusCode(), r.body());
        c = obj(r);
        assertEquals("chat.completion", c.get("object").getAsString());
        JsonObject msg = c.getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("message");
        assertEquals("assistant", msg.get("role").getAsString());
        assertEquals("the quick brown fox", msg.get("content").getAsString());
    }

    @Test
    void textGenerationWebuiModelEndpoints() throws Exception {
        JsonObject names = obj(web.get("v1/internal/model/list"));
        assertEquals("[\"echo-other\",\"echo-story\"]", names.getAsJsonArray("model_names").toString());
        assertEquals("None", obj(web.get("v1/internal/model/info")).get("model_name").getAsString());

        var r = web.post("v1/internal/model/load", "{\"model_name\":\"echo-other\",\"args\":{\"loader\":"
                + "\"itest-echo\",\"delay_ms\":\"5\"}}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("\"OK\"", r.body());
        JsonObject info = obj(web.get("v1/internal/model/info"));
        assertEquals("echo-other", info.get("model_name").getAsString());
        assertEquals("itest-echo", info.get("loader").getAsString());
        assertEquals(5L, manager.loaded("echo-other").orElseThrow().info().effectiveOptions().get("delay_ms"));

        JsonObject e = error(web.post("v1/internal/model/load", "{\"model_name\":\"echo-other\",\"args\":"
                + "{\"delay_ms\":-3}}"), 400);
        assertTrue(e.get("message").getAsString().contains("delay_ms") && e.get("message").getAsString()
                .contains("between 0 and 10000"), e.toString());
        assertEquals("delay_ms", e.get("param").getAsString());
        e = error(web.post("v1/internal/model/load", "{\"model_name\":\"echo-other\",\"args\":{\"n_ctx\":512}}"),
                400);
        assertTrue(e.get("message").getAsString().contains("Unknown option 'n_ctx'"), e.toString());
        e = error(web.post("v1/internal/model/load", "{\"model_name\":\"echo-other\",\"args\":{\"loader\":"
                + "\"ExLlamav2\"}}"), 400);
        assertTrue(e.get("message").getAsString().contains("itest-echo"), "names the installed loaders: " + e);
        error(web.post("v1/internal/model/load", "{\"model_name\":\"nope\"}"), 404);
        assertEquals(5L, manager.loaded("echo-other").orElseThrow().info().effectiveOptions().get("delay_ms"),
                "failed loads leave the loaded model alone");

        r = web.post("v1/internal/model/unload", "");
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(manager.loaded().isEmpty());
    }

    @Test
    void streamsCompletionsAndChatAsServerSentEvents() throws Exception {
        manager.load("echo-story", null, Map.of());
        List<String> data = web.sse("v1/completions", "{\"prompt\":\"x\",\"max_tokens\":5,\"stream\":true}");
        assertEquals("[DONE]", data.get(data.size() - 1));
        StringBuilder text = new StringBuilder();
        String finish = null;
        for (String d : data.subList(0, data.size() - 1)) {
            JsonObject chunk = JsonParser.parseString(d).getAsJsonObject();
            assertEquals("text_completion", chunk.get("object").getAsString());
            JsonObject choice = chunk.getAsJsonArray("choices").get(0).getAsJsonObject();
            text.append(choice.get("text").getAsString());
            if (!choice.get("finish_reason").isJsonNull()) {
                finish = choice.get("finish_reason").getAsString();
            }
        }
        assertEquals("the quick brown fox jumps", text.toString());
        assertEquals("length", finish);
        assertEquals(5 + 1 + 1, data.size(), "one chunk per token, the finish chunk, [DONE]: " + data);

        data = web.sse("v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                + "\"max_tokens\":3,\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        JsonObject firstChunk = JsonParser.parseString(data.get(0)).getAsJsonObject();
        assertEquals("chat.completion.chunk", firstChunk.get("object").getAsString());
        assertEquals("assistant", firstChunk.getAsJsonArray("choices").get(0).getAsJsonObject()
                .getAsJsonObject("delta").get("role").getAsString());
        StringBuilder chat = new StringBuilder();
        for (String d : data.subList(1, data.size() - 2)) {
            JsonObject delta = JsonParser.parseString(d).getAsJsonObject().getAsJsonArray("choices").get(0)
                    .getAsJsonObject().getAsJsonObject("delta");
            if (delta.has("content")) {
                chat.append(delta.get("content").getAsString());
            }
        }
        assertEquals("the quick brown", chat.toString());
        JsonObject usage = JsonParser.parseString(data.get(data.size() - 2)).getAsJsonObject();
        assertEquals(3, usage.getAsJsonObject("usage").get("completion_tokens").getAsInt(), usage.toString());
        assertEquals("[DONE]", data.get(data.size() - 1));
    }

    @Test
    void badRequestsGetFourHundredsAndTheServerStaysUp() throws Exception {
        // Nothing loaded yet; with load on demand off a listed model is not loaded for a request.
        web = WebServer.start("load.on.demand", false);
        JsonObject e = error(web.post("v1/completions", "{\"prompt\":\"x\"}"), 503);
        assertEquals("model_not_loaded", e.get("code").getAsString());
        e = error(web.post("v1/completions", "{\"model\":\"echo-other\",\"prompt\":\"x\"}"), 409);
        assertTrue(e.get("message").getAsString().contains("/v1/internal/model/load"), e.toString());

        manager.load("echo-story", null, Map.of());
        e = error(web.post("v1/completions", "{\"prompt\": \"x\", "), 400);
        assertEquals("invalid_json", e.get("code").getAsString());
        error(web.post("v1/completions", "[1,2]"), 400);
        error(web.post("v1/completions", "{\"prompt\":\"x\"} trailing"), 400);
        e = error(web.post("v1/completions", "{\"model\":\"gpt-4\",\"prompt\":\"x\"}"), 404);
        assertEquals("model_not_found", e.get("code").getAsString());
        assertTrue(e.get("message").getAsString().contains("echo-story"), "lists the models: " + e);
        e = error(web.post("v1/completions", "{\"prompt\":\"x\",\"temperature\":9}"), 400);
        assertEquals("temperature", e.get("param").getAsString());
        assertTrue(e.get("message").getAsString().contains("between 0 and 5"), e.toString());
        e = error(web.post("v1/completions", "{\"prompt\":\"x\",\"max_tokens\":\"many\"}"), 400);
        assertEquals("max_tokens", e.get("param").getAsString());
        e = error(web.post("v1/completions", "{\"prompt\":\"x\",\"n\":3}"), 400);
        assertEquals("n", e.get("param").getAsString());
        error(web.post("v1/completions", "{}"), 400);
        error(web.post("v1/chat/completions", "{\"messages\":[]}"), 400);
        e = error(web.post("v1/chat/completions", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}"), 400);
        assertEquals("messages[0].role", e.get("param").getAsString());
        // The runtime refuses samplers the loader lacks; its message is passed on, as a 400.
        e = error(web.post("v1/completions", "{\"prompt\":\"x\",\"top_p\":0.5,\"stream\":true}"), 400);
        assertEquals("unsupported_parameter", e.get("code").getAsString());
        assertTrue(e.get("message").getAsString().contains("does not support top_p"), e.toString());
        error(web.get("v1/completions"), 405);
        error(web.get("v1/nothing-here"), 404);
        e = error(web.post("v1/completions", "{\"prompt\":\"x\"}", "Origin", "http://evil.example"), 403);
        assertEquals("cross_origin", e.get("code").getAsString());

        var ok = web.post("v1/completions", "{\"prompt\":\"x\",\"max_tokens\":2}");
        assertEquals(200, ok.statusCode(), "still serving after the bad requests: " + ok.body());
        assertEquals("the quick", firstText(obj(ok)));
    }

    /**
     * A refusal sent before the request body has arrived must not cost the client its kept-alive
     * connection: Jetty closes a connection whose request body was left unread, and a client that
     * has already written its next request on it gets no answer (flaky "header parser received no
     * bytes" in this suite before the server read the rest of refused bodies).
     */
    @Test
    void aRefusalBeforeTheBodyArrivedKeepsTheConnectionUsable() throws Exception {
        String body = "{\"prompt\":\"x\"}";
        try (Socket s = new Socket("127.0.0.1", web.base.getPort())) {
            s.setSoTimeout(20_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n"
                    + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            // The refusal is decided from the headers alone; the body comes later, then a second request.
            Thread.sleep(300);
            out.write(body.getBytes(StandardCharsets.US_ASCII));
            out.write("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            java.io.InputStream in = s.getInputStream();
            List<Integer> statuses = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                String status = line(in);
                assertNotNull(status, "response " + (i + 1) + " never came: the connection was closed");
                statuses.add(Integer.parseInt(status.split(" ")[1]));
                int length = 0;
                for (String h; !(h = line(in)).isEmpty();) {
                    if (h.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                        length = Integer.parseInt(h.substring(15).trim());
                    }
                }
                assertEquals(length, in.readNBytes(length).length);
            }
            assertEquals(List.of(403, 200), statuses);
        }
    }

    /** One CRLF-terminated line, or null at the end of the stream. */
    private static String line(java.io.InputStream in) throws java.io.IOException {
        StringBuilder b = new StringBuilder();
        for (int c; (c = in.read()) != -1;) {
            if (c == '\n') {
                return b.toString().strip();
            }
            b.append((char) c);
        }
        return b.isEmpty() ? null : b.toString();
    }

    @Test
    void clientThatDisconnectsCancelsItsGeneration() throws Exception {
        manager.load("echo-story", null, Map.of("delay_ms", 50));
        String body = "{\"prompt\":\"x\",\"max_tokens\":100000,\"stream\":true}";
        try (Socket s = new Socket("127.0.0.1", web.base.getPort())) {
            s.setSoTimeout(20_000);
            OutputStream out = s.getOutputStream();
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(b);
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            int events = 0;
            for (String line; events < 3 && (line = in.readLine()) != null;) {
                if (line.startsWith("data: ")) {
                    events++;
                }
            }
            assertEquals(3, events);
            Framework.await("generation running", WAIT, () -> web.running("echo-story") == 1);
        }
        // 100000 words at 50 ms each would take over an hour: only cancellation ends it.
        Framework.await("generation cancelled after the client left", WAIT, () -> web.running("echo-story") == 0);
        assertTrue(manager.loaded("echo-story").isPresent(), "the model stays loaded");
        var r = web.post("v1/completions", "{\"prompt\":\"x\",\"max_tokens\":1}");
        assertEquals(200, r.statusCode(), r.body());
    }


    @Test
    void requestsForABusyModelAreServedInArrivalOrder() throws Exception {
        manager.load("echo-story", null, Map.of("delay_ms", 20));
        List<String> finished = new CopyOnWriteArrayList<>();
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (String who : List.of("first", "second", "third", "fourth")) {
            int before = web.running("echo-story");
            all.add(CompletableFuture.runAsync(() -> {
                try {
                    var r = web.post("v1/completions", "{\"prompt\":\"" + who + "\",\"max_tokens\":"
                            + ("first".equals(who) ? 40 : 3) + "}");
                    assertEquals(200, r.statusCode(), r.body());
                    finished.add(who);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }));
            // The next request is sent only once this one is in line, so arrival order is known.
            Framework.await(who + " in line", WAIT, () -> web.running("echo-story") == before + 1
                    || finished.contains(who));
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        assertEquals(List.of("first", "second", "third", "fourth"), finished);
    }

    @Test
    void apiKeyIsRequiredWhenConfigured() throws Exception {
        try {
            web = WebServer.start("api.key", "s3cret");
            JsonObject e = error(web.get("v1/models"), 401);
            assertEquals("invalid_api_key", e.get("code").getAsString());
            assertTrue(web.get("v1/models").headers().firstValue("WWW-Authenticate").isPresent());
            error(web.get("v1/models", "Authorization", "Bearer wrong"), 401);
            assertEquals(200, web.get("v1/models", "Authorization", "Bearer s3cret").statusCode());
            assertEquals(200, web.get("").statusCode(), "the page itself loads, to ask for the key");
            error(web.get("ui/api/state"), 401);
            var login = web.post("ui/api/login", "{\"key\":\"s3cret\"}");
            assertEquals(200, login.statusCode(), login.body());
            String cookie = login.headers().firstValue("Set-Cookie").orElseThrow();
            assertTrue(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), cookie);
            assertEquals(200, web.get("ui/api/state", "Cookie", cookie.split(";")[0]).statusCode());
        } finally {
            web = WebServer.start("api.key", "");
        }
        assertEquals(200, web.get("v1/models").statusCode());
    }
}
