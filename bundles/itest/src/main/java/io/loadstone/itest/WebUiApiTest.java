package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import io.loadstone.api.runtime.ModelManager;

/**
 * The web page's own endpoints over real HTTP: state, load with loader options, generation
 * streamed as events, live runtime events for every open page, and the Plugins tab's
 * uninstall and upload of a loader bundle (the hot-swap, driven from the browser side).
 */
class WebUiApiTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    private ModelManager manager;
    private Bundle echo;
    private WebServer web;
    private InputStream events;
    private final List<String> received = new CopyOnWriteArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        Path models = Framework.workDir("webui-models");
        Files.createDirectories(models.resolve("echo-story"));
        Files.writeString(models.resolve("echo-story/echo-model.txt"), OpenAiApiTest.TEXT);
        manager = Framework.useModels(models, "max.loaded.models", 2);
        echo = Framework.startEchoLoader(manager);
        web = WebServer.start();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (events != null) {
            events.close();
        }
        for (Bundle b : Framework.context().getBundles()) {
            if ("io.loadstone.itest-loader".equals(b.getSymbolicName())) {
                b.uninstall();
            }
        }
    }

    /** Listens to the page's event stream (see {@link WebServer#pageEvents}). */
    private void listen() throws Exception {
        events = web.pageEvents(received, WAIT);
    }

    private boolean got(String event, String type, String model) {
        return received.stream().filter(s -> s.startsWith(event + " ")).map(s -> JsonParser.parseString(
                s.substring(event.length() + 1)).getAsJsonObject()).anyMatch(o -> o.get("type").getAsString().equals(
                        type) && (model == null || model.equals(o.has("model") ? o.get("model").getAsString()
                                : o.get("symbolicName").getAsString())));
    }

    private static JsonObject obj(HttpResponse<String> r) {
        return WebServer.json(r).getAsJsonObject();
    }

    @Test
    void stateLoadGenerateAndLiveEvents() throws Exception {
        listen();
        JsonObject st = web.state();
        JsonObject model = st.getAsJsonArray("models").get(0).getAsJsonObject();
        assertEquals("echo-story", model.get("name").getAsString());
        assertEquals("itest-echo", model.get("best").getAsString());
        assertEquals("echo-model.txt present", model.getAsJsonArray("candidates").get(0).getAsJsonObject()
                .get("reason").getAsString());
        // By id: the list is sorted by name, and the quantized-model loaders (AutoAWQ, …) come first.
        JsonObject loader = st.getAsJsonArray("loaders").asList().stream().map(JsonElement::getAsJsonObject)
                .filter(l -> l.get("id").getAsString().equals("itest-echo")).findFirst().orElseThrow();
        JsonObject delay = loader.getAsJsonArray("options").get(0).getAsJsonObject();
        assertEquals("delay_ms", delay.get("name").getAsString());
        assertEquals("INTEGER", delay.get("type").getAsString());
        assertEquals(10000, delay.get("max").getAsInt());
        assertFalse(delay.get("help").getAsString().isBlank());

        var bad = web.post("ui/api/load", "{\"model\":\"echo-story\",\"loader\":\"itest-echo\",\"options\":"
                + "{\"delay_ms\":20000}}");
        assertEquals(400, bad.statusCode(), bad.body());
        assertTrue(obj(bad).getAsJsonObject("error").get("message").getAsString().contains("between 0 and 10000"));
        assertEquals(404, web.post("ui/api/load", "{\"model\":\"missing\"}").statusCode());

        var ok = web.post("ui/api/load", "{\"model\":\"echo-story\",\"loader\":\"itest-echo\",\"options\":"
                + "{\"delay_ms\":1}}");
        assertEquals(200, ok.statusCode(), ok.body());
        assertTrue(obj(ok).get("message").getAsString().startsWith("Successfully loaded `echo-story` with itest-echo"));
        Framework.await("LOADED event reached the page", WAIT, () -> got("model", "LOADED", "echo-story"));
        assertTrue(got("model", "LOADING", "echo-story"));

        List<String> data = web.sse("ui/api/generate", "{\"prompt\":\"x\",\"max_new_tokens\":4,\"params\":"
                + "{\"temperature\":0.7,\"do_sample\":true},\"seed\":42}");
        StringBuilder text = new StringBuilder();
        JsonObject done = null;
        for (String d : data) {
            JsonObject o = JsonParser.parseString(d).getAsJsonObject();
            if (o.has("text")) {
                text.append(o.get("text").getAsString());
            } else if (o.has("reason")) {
                done = o;
            }
        }
        assertEquals("the quick brown fox", text.toString());
        assertEquals("LENGTH", done.get("reason").getAsString());
        assertEquals(4, done.get("tokens").getAsInt());
        assertTrue(done.get("tokensPerSecond").getAsDouble() > 0);

        var refused = web.post("ui/api/generate", "{\"prompt\":\"x\",\"params\":{\"top_p\":0.5}}");
        assertEquals(400, refused.statusCode(), "a stale page's unsupported parameter is refused up front");
        assertTrue(refused.body().contains("does not support top_p"), refused.body());

        var unload = web.post("ui/api/unload", "{\"model\":\"echo-story\"}");
        assertEquals(200, unload.statusCode());
        Framework.await("UNLOADED event", WAIT, () -> got("model", "UNLOADED", "echo-story"));
    }

    @Test
    void pluginsTabUninstallsAndReinstallsTheLoader() throws Exception {
        listen();
        manager.load("echo-story", null, java.util.Map.of());
        JsonObject plugins = obj(web.get("ui/api/plugins"));
        JsonObject loaderBundle = null;
        JsonObject core = null;
        for (JsonElement e : plugins.getAsJsonArray("bundles")) {
            JsonObject b = e.getAsJsonObject();
            if (b.get("symbolicName").getAsString().equals("io.loadstone.itest-loader")) {
                loaderBundle = b;
            } else if (b.get("symbolicName").getAsString().equals("io.loadstone.core")) {
                core = b;
            }
        }
        assertEquals("[\"itest-echo\"]", loaderBundle.getAsJsonArray("loaders").toString());
        assertEquals("loader", loaderBundle.get("category").getAsString());
        assertTrue(loaderBundle.get("manageable").getAsBoolean());
        assertFalse(core.get("manageable").getAsBoolean());

        String token = web.pageToken();
        var r = web.post("ui/api/plugins/" + core.get("id").getAsLong() + "/uninstall", "{}", "X-Loadstone-Token",
                token);
        assertEquals(400, r.statusCode(), "the runtime itself is protected: " + r.body());
        r = web.post("ui/api/plugins/" + loaderBundle.get("id").getAsLong() + "/uninstall", "{}",
                "X-Loadstone-Token", token);
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(manager.loaded().isEmpty(), "its model was unloaded");
        assertTrue(manager.loaders().stream().noneMatch(l -> l.id().equals("itest-echo")), "loader gone");
        Framework.await("LOADER_GONE and UNINSTALLED reach the page", WAIT, () -> got("model", "LOADER_GONE",
                "echo-story") && got("bundle", "UNINSTALLED", "io.loadstone.itest-loader"));

        r = web.client.send(HttpRequest.newBuilder(web.base.resolve("ui/api/plugins/install"))
                .header("Content-Type", "application/java-archive").header("X-File-Name", "notes.txt")
                .header("X-Loadstone-Token", token)
                .POST(HttpRequest.BodyPublishers.ofString("not a jar")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, r.statusCode(), r.body());
        r = web.client.send(HttpRequest.newBuilder(web.base.resolve("ui/api/plugins/install"))
                .header("Content-Type", "application/java-archive").header("X-File-Name", "itest-loader.jar")
                .header("X-Loadstone-Token", token)
                .POST(HttpRequest.BodyPublishers.ofFile(Framework.testBundle("itest-loader.jar"))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(obj(r).get("message").getAsString().startsWith("Installed io.loadstone.itest-loader"), r.body());
        Framework.await("loader back", WAIT, () -> manager.loaders().stream().anyMatch(l -> l.id().equals(
                "itest-echo")));
        assertEquals(200, web.post("ui/api/load", "{\"model\":\"echo-story\"}").statusCode());
    }

    @Test
    void modelSettingsAreShownOnSelectionAndSavedToConfigUserJson() throws Exception {
        JsonObject s = obj(web.get("ui/api/settings?model=echo-story"));
        assertEquals("itest-echo", s.get("loader").getAsString());
        assertEquals(0, s.getAsJsonObject("options").get("delay_ms").getAsInt());
        assertTrue(s.getAsJsonArray("sources").toString().contains("defaults of itest-echo"), s.toString());

        var saved = web.post("ui/api/settings", "{\"model\":\"echo-story\",\"loader\":\"itest-echo\","
                + "\"options\":{\"delay_ms\":7}}");
        assertEquals(200, saved.statusCode(), saved.body());
        assertTrue(saved.body().contains("config-user.json"), saved.body());
        s = obj(web.get("ui/api/settings?model=echo-story"));
        assertEquals(7, s.getAsJsonObject("options").get("delay_ms").getAsInt());
        assertTrue(s.getAsJsonArray("sources").toString().contains("saved in config-user.json"), s.toString());
        assertTrue(Files.readString(manager.modelsDir().resolve("config-user.json")).contains("\"delay_ms\": 7"));

        var bad = web.post("ui/api/settings", "{\"model\":\"echo-story\",\"loader\":\"itest-echo\","
                + "\"options\":{\"delay_ms\":-1}}");
        assertEquals(400, bad.statusCode());
        assertTrue(bad.body().contains("delay_ms"), bad.body());
        assertEquals(404, web.get("ui/api/settings?model=nope").statusCode());

        // Autoload is the runtime's Config Admin setting: set from the page, read back by any page.
        assertTrue(obj(web.post("ui/api/autoload", "{\"autoload\":true}")).get("autoload").getAsBoolean());
        assertTrue(obj(web.get("ui/api/autoload")).get("autoload").getAsBoolean());
        var ca = Framework.service(org.osgi.service.cm.ConfigurationAdmin.class, WAIT);
        assertEquals(Boolean.TRUE, ca.getConfiguration("io.loadstone.core", "?").getProperties().get("autoload"));
        assertFalse(obj(web.post("ui/api/autoload", "{\"autoload\":false}")).get("autoload").getAsBoolean());
    }
}
