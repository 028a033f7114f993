package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceRegistration;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import io.loadstone.api.runtime.ModelEvent;
import io.loadstone.api.runtime.ModelEventListener;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.api.runtime.LoadedModelState;

/**
 * text-generation-webui's multi-model evaluation over HTTP ({@code POST /v1/internal/perplexity} with
 * {@code "models"}) on two real models: the starter stories260K.gguf (llama.cpp) and its Hugging Face copy
 * (Transformers, the Java engine), at most one model in memory. A model that is not loaded is loaded with
 * its settings, a name that is no model fails only its own entry, and the same list asked again comes from
 * the log without loading anything (counted from the runtime's LOADING events).
 */
class MultiModelEvaluationTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final String GGUF = "stories260K.gguf";
    private static final String HF = "stories260K-hf";
    private static final String STORY = "Once upon a time, there was a little girl named Lily. She loved to play"
            + " outside in the sunshine. One day, she saw a big, red ball in the park. She wanted to play with it,"
            + " but it was too high in the tree. Lily asked her mom for help. They found a long stick and tried to"
            + " reach the ball. After a few tries, the ball fell down. Lily was very happy. She played with the ball"
            + " all day long. When it was time to go home, Lily said thank you to her mom. ";

    private ModelManager manager;
    private WebServer web;
    private ServiceRegistration<ModelEventListener> listener;
    private final List<String> loading = new CopyOnWriteArrayList<>();
    /** A text of this run only, so rows of earlier runs in the shared log never match. */
    private final String text = STORY + "Run " + UUID.randomUUID() + ".";

    @BeforeEach
    void setUp() throws Exception {
        String shared = Framework.context().getProperty("loadstone.shared.models");
        assumeTrue(shared != null && Files.isDirectory(Path.of(shared, HF)), "shared models absent: " + shared);
        Path models = Framework.workDir("multi-evaluation-models");
        Path copy = Files.createDirectories(models.resolve(HF));
        try (Stream<Path> files = Files.list(Path.of(shared, HF))) {
            for (Path f : files.toList()) {
                Files.copy(f, copy.resolve(f.getFileName()));
            }
        }
        Files.copy(Framework.testBundle(GGUF), models.resolve(GGUF));
        manager = Framework.useModels(models, "max.loaded.models", 1);
        Framework.await("Transformers and llama.cpp loaders", WAIT, () -> manager.loaders().stream()
                .filter(l -> List.of("Transformers", "llama.cpp").contains(l.id())).count() == 2);
        Framework.await("two models listed", WAIT, () -> manager.models().size() == 2);
        Bundle evaluation = Framework.bundle("io.loadstone.evaluation");
        evaluation.start();
        web = WebServer.start();
        Framework.await("evaluation API available", WAIT, () -> {
            try {
                return WebServer.json(web.get("ui/api/evaluation")).getAsJsonObject().get("available").getAsBoolean();
            } catch (Exception e) {
                return false;
            }
        });
        listener = Framework.context().registerService(ModelEventListener.class, e -> {
            if (e.type() == ModelEvent.Type.LOADING) {
                loading.add(e.model());
            }
        }, null);
    }

    @AfterEach
    void tearDown() {
        if (listener != null) {
            listener.unregister();
        }
        if (manager != null) {
            manager.loaded().forEach(s -> manager.unload(s.name()));
        }
    }

    private JsonArray evaluate(int stride, String... models) throws Exception {
        JsonObject body = new JsonObject();
        JsonArray names = new JsonArray();
        for (String m : models) {
            names.add(m);
        }
        body.add("models", names);
        body.addProperty("text", text);
        body.addProperty("stride", stride);
        body.addProperty("max_length", 128);
        long t0 = System.nanoTime();
        HttpResponse<String> r = web.post("v1/internal/perplexity", body.toString());
        System.getLogger(getClass().getName()).log(System.Logger.Level.INFO, "models " + List.of(models) + " stride "
                + stride + ": " + (System.nanoTime() - t0) / 1_000_000 + " ms, " + r.body());
        assertEquals(200, r.statusCode(), r.body());
        JsonObject o = WebServer.json(r).getAsJsonObject();
        assertEquals("list", o.get("object").getAsString());
        assertFalse(o.get("cancelled").getAsBoolean());
        JsonArray results = o.getAsJsonArray("results");
        assertEquals(models.length, results.size(), r.body());
        return results;
    }

    private List<String> loadedNames() {
        return manager.loaded().stream().map(LoadedModelState::name).toList();
    }

    @Test
    void severalModelsAreLoadedInTurnAndTheSameListAgainComesFromTheLog() throws Exception {
        // Neither is loaded: both are loaded with their settings; the missing name fails alone.
        assertEquals(List.of(), loadedNames());
        JsonArray first = evaluate(64, GGUF, "no-such-model.gguf", HF);
        JsonObject cpp = first.get(0).getAsJsonObject();
        JsonObject missing = first.get(1).getAsJsonObject();
        JsonObject hf = first.get(2).getAsJsonObject();
        assertEquals(GGUF, cpp.get("model").getAsString());
        assertEquals("llama.cpp", cpp.get("loader").getAsString());
        assertFalse(cpp.get("from_log").getAsBoolean());
        assertEquals("no-such-model.gguf", missing.get("model").getAsString());
        assertEquals("model_not_found", missing.getAsJsonObject("error").get("code").getAsString());
        assertTrue(missing.getAsJsonObject("error").get("message").getAsString().contains("no-such-model.gguf"));
        assertEquals(HF, hf.get("model").getAsString());
        assertEquals("Transformers", hf.get("loader").getAsString());
        assertFalse(hf.get("from_log").getAsBoolean());
        assertEquals(cpp.get("tokens").getAsInt(), hf.get("tokens").getAsInt(), "same tokens");
        double a = cpp.get("perplexity").getAsDouble();
        double b = hf.get("perplexity").getAsDouble();
        // llama.cpp's default F16 KV cache against the Java engine's F32: close, not equal.
        assertTrue(Math.abs(a - b) / a < 1e-2, a + " vs " + b);
        assertEquals(List.of(GGUF, HF), loading, "each loaded once, in order");
        assertEquals(List.of(HF), loadedNames(), "left loaded; the memory limit (one model) unloaded the first");

        // The same list again: both from the log, nothing loaded (the GGUF is not in memory now).
        loading.clear();
        JsonArray again = evaluate(64, GGUF, "no-such-model.gguf", HF);
        assertTrue(again.get(0).getAsJsonObject().get("from_log").getAsBoolean(), again.toString());
        assertEquals(a, again.get(0).getAsJsonObject().get("perplexity").getAsDouble(), 0.0);
        assertEquals("model_not_found", again.get(1).getAsJsonObject().getAsJsonObject("error").get("code")
                .getAsString());
        assertTrue(again.get(2).getAsJsonObject().get("from_log").getAsBoolean(), again.toString());
        assertEquals(List.of(), loading, "nothing was loaded");
        assertEquals(List.of(HF), loadedNames());

        // Only one is loaded (the HF copy): it is evaluated as it is, only the GGUF is loaded.
        JsonArray other = evaluate(32, HF, GGUF);
        assertFalse(other.get(0).getAsJsonObject().get("from_log").getAsBoolean());
        assertFalse(other.get(1).getAsJsonObject().get("from_log").getAsBoolean());
        assertEquals(List.of(GGUF), loading);
        assertEquals(List.of(GGUF), loadedNames());
    }
}
