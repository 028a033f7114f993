package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;

import com.google.gson.JsonObject;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.runtime.ModelManager;

/**
 * LoRA adapters over text-generation-webui's routes (/v1/internal/lora/...) and the page's
 * Apply LoRAs route, with the real PEFT adapters from the shared models in a loras folder:
 * the listing rule, the refusals (no model, unknown name, a loader without LoRA), and on
 * llama.cpp that applying changes the greedy text and removing restores it exactly.
 */
class LoraApiTest {

    static final String R8 = "stories260K-lora-r8";
    static final String QV = "stories260K-lora-r4-qv";

    private ModelManager manager;
    private WebServer web;
    private Path loras;

    @BeforeEach
    void setUp() throws Exception {
        Path models = Framework.workDir("lora-models");
        Files.createDirectories(models.resolve("echo-story"));
        Files.writeString(models.resolve("echo-story/echo-model.txt"), OpenAiApiTest.TEXT);
        Files.copy(Framework.testBundle("stories260K.gguf"), models.resolve("stories260K.gguf"));
        loras = Framework.workDir("loras");
        Path shared = Paths.get(Framework.context().getProperty("loadstone.shared.models"));
        copyFolder(shared.resolve("stories260K-hf"), models.resolve("stories260K-hf"));
        copyFolder(shared.resolve(R8), loras.resolve(R8));
        copyFolder(shared.resolve(QV), loras.resolve(QV));
        // What webui's rule and the adapter_config.json check leave out of the menu.
        Files.writeString(loras.resolve("notes.txt"), "not an adapter");
        copyFolder(shared.resolve(R8), loras.resolve("old-np"));
        Files.createDirectories(loras.resolve("empty-folder"));
        manager = Framework.useModels(models, "max.loaded.models", 2, "loras.dir", loras.toString());
        Framework.await("loras folder configured", Duration.ofSeconds(20), () -> manager.lorasDir().equals(loras.toAbsolutePath().normalize()));
        web = WebServer.start();
    }

    @AfterEach
    void tearDown() throws Exception {
        for (var s : manager.loaded()) {
            manager.unload(s.name());
        }
        for (Bundle b : Framework.context().getBundles()) {
            if ("io.loadstone.itest-loader".equals(b.getSymbolicName())) {
                b.uninstall();
            }
        }
    }

    private static void copyFolder(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            files.forEach(f -> {
                try {
                    Files.copy(f, to.resolve(f.getFileName().toString()));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    private static JsonObject obj(HttpResponse<String> r) {
        return WebServer.json(r).getAsJsonObject();
    }

    private static String error(HttpResponse<String> r, int status) {
        assertEquals(status, r.statusCode(), r.body());
        return obj(r).getAsJsonObject("error").get("message").getAsString();
    }

    @Test
    void listsAdaptersAndRefusesWhatCannotBeApplied() throws Exception {
        assertEquals(List.of(QV, R8), manager.loras());
        JsonObject list = obj(web.get("v1/internal/lora/list"));
        assertEquals("[\"" + QV + "\",\"" + R8 + "\"]", list.getAsJsonArray("lora_names").toString());
        JsonObject st = web.state();
        assertEquals("[\"" + QV + "\",\"" + R8 + "\"]", st.getAsJsonArray("loras").toString());
        assertEquals(manager.lorasDir().toString(), st.get("lorasDir").getAsString());

        String msg = error(web.post("v1/internal/lora/load", "{\"lora_names\":[\"" + R8 + "\"]}"), 409);
        assertTrue(msg.contains("No model is loaded"), msg);
        var none = web.post("v1/internal/lora/unload", "");
        assertEquals(200, none.statusCode(), "nothing loaded, nothing to remove: " + none.body());

        Framework.startEchoLoader(manager);
        manager.load("echo-story", "itest-echo", java.util.Map.of());
        msg = error(web.post("v1/internal/lora/load", "{\"lora_names\":[\"nope\"]}"), 400);
        assertTrue(msg.contains("'nope'") && msg.contains(QV + ", " + R8), "names the known adapters: " + msg);
        msg = error(web.post("v1/internal/lora/load", "{\"lora_names\":[\"old-np\"]}"), 400);
        assertTrue(msg.contains("no LoRA named 'old-np'"), msg);
        msg = error(web.post("v1/internal/lora/load", "{\"lora_names\":[\"" + R8 + "\"],\"lora_scales\":[1,2]}"),
                400);
        assertTrue(msg.contains("1 LoRA name(s) but 2 scale(s)"), msg);
        msg = error(web.post("v1/internal/lora/load", "{\"lora_names\":[\"" + R8 + "\"]}"), 400);
        assertTrue(msg.contains("The itest-echo loader cannot apply LoRA adapters"), msg);
        msg = error(web.post("ui/api/loras", "{\"model\":\"echo-story\",\"loras\":[\"" + R8 + "\"]}"), 400);
        assertTrue(msg.contains("The itest-echo loader cannot apply LoRA adapters"), msg);
        msg = error(web.post("ui/api/loras", "{\"model\":\"stories260K.gguf\",\"loras\":[]}"), 409);
        assertTrue(msg.contains("'stories260K.gguf' is not loaded"), msg);

        JsonObject loaded = web.state().getAsJsonArray("loaded").get(0).getAsJsonObject();
        assertEquals("NONE", loaded.get("loraSupport").getAsString());
        assertEquals(0, loaded.getAsJsonArray("loras").size());
        var r = web.post("v1/internal/lora/unload", "");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("\"OK\"", r.body());
        assertEquals("[]", obj(web.get("v1/internal/model/info")).getAsJsonArray("lora_names").toString());
    }

    private String greedy(String model) throws Exception {
        var r = web.post("v1/completions", "{\"model\":\"" + model + "\",\"prompt\":\"Once upon a time\","
                + "\"max_tokens\":30,\"temperature\":0}");
        assertEquals(200, r.statusCode(), r.body());
        return obj(r).getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString();
    }

    @Test
    void llamaCppAppliesOneThenBothAndRemovingRestoresTheBaseOutput() throws Exception {
        appliesOneThenBothAndRemovingRestoresTheBaseOutput("stories260K.gguf", "llama.cpp", "\"n_ctx\":256");
    }

    @Test
    void transformersAppliesOneThenBothAndRemovingRestoresTheBaseOutput() throws Exception {
        appliesOneThenBothAndRemovingRestoresTheBaseOutput("stories260K-hf", "Transformers", "\"threads\":2");
    }

    private void appliesOneThenBothAndRemovingRestoresTheBaseOutput(String model, String loaderId, String args)
            throws Exception {
        Framework.await(loaderId + " loader", Duration.ofSeconds(20), () -> manager.loaders().stream().anyMatch(
                l -> l.id().equals(loaderId)));
        var loader = manager.loaders().stream().filter(l -> l.id().equals(loaderId)).findFirst().orElseThrow();
        assumeTrue(loader.capabilities().lora() != Capabilities.LoraSupport.NONE,
                "the " + loaderId + " loader does not apply LoRAs in this build");
        var r = web.post("v1/internal/model/load", "{\"model_name\":\"" + model + "\",\"args\":{\"loader\":\""
                + loaderId + "\"," + args + "}}");
        assertEquals(200, r.statusCode(), r.body());
        String base = greedy(model);
        // PEFT's own greedy continuations (reference.json, made with the peft library on the HF copy).
        JsonObject ref = com.google.gson.JsonParser.parseString(Files.readString(loras.resolve(R8).resolve(
                "reference.json"))).getAsJsonObject();
        assertEquals(ref.get("base_greedy_text").getAsString(), base);

        r = web.post("v1/internal/lora/load", "{\"lora_names\":[\"" + R8 + "\"]}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("[\"" + R8 + "\"]", obj(web.get("v1/internal/model/info")).getAsJsonArray("lora_names")
                .toString());
        String one = greedy(model);
        assertNotEquals(base, one, "the r8 adapter changes the greedy continuation");
        assertEquals(ref.get("adapter_greedy_text").getAsString(), one, "as PEFT continues with the adapter");

        r = web.post("ui/api/loras", "{\"model\":\"" + model + "\",\"loras\":[\"" + R8 + "\",\"" + QV + "\"]}");
        assertEquals(200, r.statusCode(), r.body());
        JsonObject loaded = obj(r).getAsJsonObject("state").getAsJsonArray("loaded").get(0).getAsJsonObject();
        assertEquals(2, loaded.getAsJsonArray("loras").size(), loaded.toString());
        String both = greedy(model);
        assertNotEquals(one, both, "adding the r4-qv adapter changes it again");
        assertEquals(ref.get("both_adapters_greedy_text").getAsString(), both, "as PEFT with both active");

        // A scale reaches the loader: r8 at 0 contributes nothing.
        r = web.post("v1/internal/lora/load", "{\"lora_names\":[\"" + R8 + "\"],\"lora_scales\":[0]}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(0.0, manager.loras(model).get(0).scale());
        assertEquals(base, greedy(model), "r8 at scale 0 leaves the base output");
        manager.setLoras(null, List.of(R8, QV), null);
        System.out.println("LoRA on " + loaderId + ", greedy 30 tokens:\n  base: " + base + "\n  r8:   " + one
                + "\n  both: " + both);

        r = web.post("v1/internal/lora/unload", "");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("[]", obj(web.get("v1/internal/model/info")).getAsJsonArray("lora_names").toString());
        assertEquals(base, greedy(model), "without adapters the base output is back, exactly");
        assertFalse(base.isBlank());
    }
}
