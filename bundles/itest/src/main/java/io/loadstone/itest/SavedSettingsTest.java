package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceReference;

import com.google.gson.JsonObject;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.ModelManager;

/**
 * A model's saved settings (config-user.json, written by Save settings) are what every load
 * path uses when it does not say otherwise: the runtime's load, the shell's loadstone:load, the
 * API's model/load with only a name, a completion that loads the model on demand, an
 * evaluation, the --model start (Autoload), and all of them again after the runtime restarts.
 * Given options override saved ones one by one; Reload repeats the load as it was.
 */
class SavedSettingsTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String MODEL = "stories260K.gguf";
    /** Neither llama.cpp's default nor the model's own context (2048): only the saved file says 192. */
    private static final int SAVED_CTX = 192;

    private ModelManager manager;
    private Path models;
    private WebServer web;

    @BeforeEach
    void setUp() throws Exception {
        models = Framework.workDir("saved-settings-models");
        Files.copy(Framework.testBundle(MODEL), models.resolve(MODEL));
        manager = Framework.useModels(models, "max.loaded.models", 2);
        Framework.await("llama.cpp loader", WAIT, () -> manager.loaders().stream().anyMatch(l -> l.id().equals(
                "llama.cpp")));
        manager.saveSettings(MODEL, "llama.cpp", Map.of("n_ctx", SAVED_CTX, "threads", 1));
        web = WebServer.start();
    }

    private int loadedContext() {
        LoadedModelState s = manager.loaded(MODEL).orElseThrow(() -> new AssertionError(MODEL + " is not loaded"));
        assertEquals("llama.cpp", s.info().loaderId());
        return s.info().contextLength();
    }

    private void unloadAll() {
        for (LoadedModelState s : manager.loaded()) {
            manager.unload(s.name());
        }
    }

    @Test
    void everyLoadPathUsesTheSavedSettings() throws Exception {
        // The runtime's own load, with nothing said.
        manager.load(MODEL, null, Map.of());
        assertEquals(SAVED_CTX, loadedContext(), "ModelManager.load");
        // Given options override saved ones, each on its own: threads stays the saved 1.
        manager.load(MODEL, null, Map.of("n_ctx", 128));
        assertEquals(128, loadedContext());
        assertEquals(1L, ((Number) manager.loaded(MODEL).orElseThrow().info().effectiveOptions().get("threads"))
                .longValue(), "the saved threads stays under an explicit n_ctx");

        // The shell.
        unloadAll();
        String out = shellLoad(MODEL);
        assertTrue(out.contains(MODEL), out);
        assertEquals(SAVED_CTX, loadedContext(), "loadstone:load " + MODEL);

        // The API with only model_name.
        unloadAll();
        var r = web.post("v1/internal/model/load", "{\"model_name\":\"" + MODEL + "\"}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(SAVED_CTX, loadedContext(), "POST /v1/internal/model/load");

        // A completion naming the model loads it on demand.
        unloadAll();
        r = web.post("v1/completions", "{\"model\":\"" + MODEL + "\",\"prompt\":\"Once upon a time\","
                + "\"max_tokens\":4,\"temperature\":0}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(SAVED_CTX, loadedContext(), "on-demand load from /v1/completions");

        // An evaluation that loads the model.
        unloadAll();
        r = web.post("v1/internal/perplexity", "{\"model\":\"" + MODEL + "\",\"text\":\"Once upon a time, there "
                + "was a little girl named Lily. She loved to play outside in the park.\",\"max_length\":16,"
                + "\"stride\":8,\"force\":true,\"comment\":\"saved settings\"}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(SAVED_CTX, loadedContext(), "an evaluation's load");

        // --model NAME at start is the runtime's "model" setting (Autoload).
        manager = Framework.useModels(models, "max.loaded.models", 2, "model", MODEL);
        Framework.await("autoloaded " + MODEL, WAIT, () -> manager.loaded(MODEL).isPresent());
        assertEquals(SAVED_CTX, loadedContext(), "--model / autoload");
        manager = Framework.useModels(models, "max.loaded.models", 2);
    }

    @Test
    void reloadRepeatsTheLoadWhateverTheFormSays() throws Exception {
        manager.load(MODEL, null, Map.of("n_ctx", 256));
        // Another page's form may show other values; Reload does not take any.
        var r = web.post("ui/api/reload", "{\"model\":\"" + MODEL + "\",\"options\":{\"n_ctx\":64}}");
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(WebServer.json(r).getAsJsonObject().get("message").getAsString().startsWith(
                "Successfully reloaded `" + MODEL + "`"), r.body());
        assertEquals(256, loadedContext(), "reloaded with the options it was loaded with, not the saved 192");
        manager.unload(MODEL);
        JsonObject e = WebServer.json(web.post("ui/api/reload", "{\"model\":\"" + MODEL + "\"}")).getAsJsonObject();
        assertTrue(e.getAsJsonObject("error").get("message").getAsString().contains("not loaded"), e.toString());
    }

    @Test
    void saveRefusesALoaderThatCannotLoadTheModel() throws Exception {
        Framework.await("Transformers loader", WAIT, () -> manager.loaders().stream().anyMatch(l -> l.id().equals(
                "Transformers")));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> manager.saveSettings(MODEL,
                "Transformers", Map.of()));
        assertTrue(e.getMessage().contains("cannot load '" + MODEL + "'") && e.getMessage().contains("not saved"),
                e.getMessage());
        HttpResponse<String> r = web.post("ui/api/settings", "{\"model\":\"" + MODEL + "\",\"loader\":"
                + "\"Transformers\",\"options\":{}}");
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(r.body().contains("Transformers loader cannot load"), r.body());
        assertEquals("llama.cpp", manager.settings(MODEL).loader(), "the saved settings are unchanged");
        assertEquals((long) SAVED_CTX, ((Number) manager.settings(MODEL).options().get("n_ctx")).longValue());
    }

    /** Config Admin and config-user.json outlive the runtime: a restarted core loads with the saved settings. */
    @Test
    void savedSettingsSurviveARestartOfTheRuntime() throws Exception {
        Bundle core = Framework.bundle("io.loadstone.core");
        core.stop();
        core.start();
        manager = Framework.service(ModelManager.class, WAIT);
        Framework.await("models folder after restart", WAIT, () -> manager.modelsDir().equals(models)
                && manager.loaders().stream().anyMatch(l -> l.id().equals("llama.cpp")));
        assertFalse(manager.loaded(MODEL).isPresent());
        manager.load(MODEL, null, Map.of());
        assertEquals(SAVED_CTX, loadedContext());
        web = WebServer.start();
        manager.unload(MODEL);
        var r = web.post("v1/internal/model/load", "{\"model_name\":\"" + MODEL + "\"}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(SAVED_CTX, loadedContext());
    }

    /** The Gogo command {@code loadstone:load NAME}, called as the shell calls it. */
    private static String shellLoad(String model) throws Exception {
        ServiceReference<?>[] refs = Framework.context().getServiceReferences((String) null,
                "(&(osgi.command.scope=loadstone)(osgi.command.function=load))");
        assertTrue(refs != null && refs.length == 1, "one loadstone:load command");
        Object commands = Framework.context().getService(refs[0]);
        try {
            return (String) commands.getClass().getMethod("load", String.class, String[].class).invoke(commands,
                    model, new String[0]);
        } finally {
            Framework.context().ungetService(refs[0]);
        }
    }
}
