package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;

import com.google.gson.JsonObject;

import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelManager;

/**
 * The OpenAI-compatible API over real HTTP on 127.0.0.1, against the real runtime with the
 * echo test loader: listing, completions, chat, streaming, errors with proper status codes,
 * fair queueing and cancellation when a client disconnects.
 */
class OpenAiApiTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    private ModelManager manager;
    private Bundle echo;
    private WebServer web;

    @BeforeEach
    void setUp() throws Exception {
        Path models = Framework.workDir("openai-models");
        Path m = Files.createDirectories(models.resolve("echo-story"));
        Files.writeString(m.resolve("echo-model.txt"), "the quick brown fox jumps over the lazy dog");
        manager = Framework.service(ModelManager.class, WAIT);
        Framework.configure("io.loadstone.core", Framework.props("models.dir", models.toString(),
                "max.loaded.models", 2));
        Framework.await("models folder configured", WAIT, () -> manager.modelsDir().equals(models));
        echo = Framework.install(Framework.testBundle("itest-loader.jar"));
        echo.start();
        Framework.await("echo loader discovered", WAIT, () -> manager.loaders().stream().map(LoaderInfo::id)
                .anyMatch("itest-echo"::equals));
        web = WebServer.start();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (echo != null && echo.getState() != Bundle.UNINSTALLED) {
            echo.uninstall();
        }
    }

    @Test
    void listsModelsAndCompletes() throws Exception {
        var r = web.get("v1/models");
        assertEquals(200, r.statusCode(), r.body());
        JsonObject list = WebServer.json(r).getAsJsonObject();
        assertEquals("list", list.get("object").getAsString());
        assertEquals("echo-story", list.getAsJsonArray("data").get(0).getAsJsonObject().get("id").getAsString());

        manager.load("echo-story", null, Map.of());
        r = web.post("v1/completions", "{\"model\":\"echo-story\",\"prompt\":\"x\",\"max_tokens\":3}");
        assertEquals(200, r.statusCode(), r.body());
        JsonObject c = WebServer.json(r).getAsJsonObject();
        assertEquals("the quick brown", c.getAsJsonArray("choices").get(0).getAsJsonObject().get("text")
                .getAsString());
        assertTrue(c.get("id").getAsString().startsWith("cmpl-"));
    }
}
