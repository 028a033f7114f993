package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceRegistration;
import org.osgi.framework.namespace.HostNamespace;
import org.osgi.framework.wiring.BundleWiring;
import org.osgi.framework.wiring.FrameworkWiring;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.StopReason;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelEntry;
import io.loadstone.api.runtime.ModelEvent;
import io.loadstone.api.runtime.ModelEventListener;
import io.loadstone.api.runtime.ModelManager;

/**
 * The llama.cpp loader with its native fragment, end to end in a running framework: the
 * starter model generates the known story; the loader and the native runtime bundle can
 * go away and come back while the framework runs; corrupt files never reach native code.
 */
class LlamaCppLoaderTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    static final String STORY = ", there was a little girl named Lily. She loved to play outside in the park. One day,";
    static final String LOADER_BSN = "io.loadstone.loader-llamacpp";
    static final String RUNTIME_BSN = "io.loadstone.llamacpp";
    static final String FRAGMENT_BSN = "io.loadstone.llamacpp-linux-x86_64";

    private ModelManager manager;
    private Path models;
    private final List<ModelEvent> events = new CopyOnWriteArrayList<>();
    private ServiceRegistration<ModelEventListener> listener;

    @BeforeEach
    void setUp() throws Exception {
        models = Framework.workDir("llamacpp-models");
        Files.copy(Framework.testBundle("stories260K.gguf"), models.resolve("stories260K.gguf"));
        manager = Framework.service(ModelManager.class, WAIT);
        Framework.configure("io.loadstone.core", Framework.props("models.dir", models.toString(),
                "max.loaded.models", 3));
        Framework.await("models folder configured", WAIT, () -> manager.modelsDir().equals(models));
        Framework.await("llama.cpp loader", WAIT, () -> hasLoader("llama.cpp"));
        listener = Framework.context().registerService(ModelEventListener.class, events::add, null);
    }

    @AfterEach
    void tearDown() {
        listener.unregister();
        manager.loaded().forEach(s -> manager.unload(s.name()));
    }

    private boolean hasLoader(String id) {
        return manager.loaders().stream().map(LoaderInfo::id).anyMatch(id::equals);
    }

    private String greedy(String model, String prompt, int n) throws ModelLoadException {
        StringBuilder sb = new StringBuilder();
        GenerationResult r = manager.generate(model, GenerationRequest.greedy(prompt, n), (id, t) -> {
            sb.append(t);
            return true;
        });
        assertEquals(sb.toString(), r.text(), "streamed pieces add up to the result");
        return sb.toString();
    }

    @Test
    void onlyThePlatformFragmentAttachesToTheRuntime() throws Exception {
        Bundle fragment = Framework.bundle(FRAGMENT_BSN);
        assertNotNull(fragment, "the linux-x86_64 fragment is deployed");
        assertEquals(Bundle.RESOLVED, fragment.getState());
        BundleWiring runtime = Framework.bundle(RUNTIME_BSN).adapt(BundleWiring.class);
        assertTrue(runtime.getProvidedWires(HostNamespace.HOST_NAMESPACE).stream()
                .anyMatch(w -> w.getRequirer().getBundle().equals(fragment)), "fragment attached to its host");

        // A fragment for another platform installs but never resolves (Bundle-NativeCode does not match).
        Bundle foreign = Framework.install(Framework.testBundle("llamacpp-windows-x86_64.jar"));
        try {
            Framework.context().getBundle(0).adapt(FrameworkWiring.class).resolveBundles(List.of(foreign));
            assertEquals(Bundle.INSTALLED, foreign.getState());
        } finally {
            foreign.uninstall();
        }
    }

    @Test
    void starterModelTellsTheKnownStory() throws Exception {
        ModelEntry e = manager.models().stream().filter(m -> m.name().equals("stories260K.gguf")).findFirst()
                .orElseThrow();
        assertEquals("llama.cpp", e.bestLoader());
        assertTrue(e.candidates().get(0).detection().reason().contains("GGUF v3"), e.candidates().toString());
        var state = manager.load("stories260K.gguf", null, Map.of("n_ctx", 256, "threads", 2));
        assertEquals(256, state.info().contextLength());
        assertEquals(STORY, greedy("stories260K.gguf", "Once upon a time", 30));
    }

    @Test
    void loaderBundleUninstalledWhileLoadedThenBack() throws Exception {
        manager.load("stories260K.gguf", "llama.cpp", Map.of("n_ctx", 256));
        // ctransformers runs llama GGUF too (ranked last): stopped, no loader is left for the file.
        Bundle ctransformers = Framework.bundle("io.loadstone.loader-ctransformers");
        ctransformers.stop();
        try {
            uninstallAndReinstall();
        } finally {
            ctransformers.start();
        }
    }

    private void uninstallAndReinstall() throws Exception {
        Bundle loader = Framework.bundle(LOADER_BSN);
        loader.uninstall();
        Framework.await("loader gone", WAIT, () -> !hasLoader("llama.cpp"));
        assertTrue(manager.loaded().isEmpty(), "its model was closed");
        Framework.await("LOADER_GONE", WAIT, () -> events.stream().anyMatch(ev -> ev.type()
                == ModelEvent.Type.LOADER_GONE && ev.model().equals("stories260K.gguf")));
        ModelEntry orphan = manager.models().get(0);
        assertTrue(orphan.candidates().isEmpty());
        assertTrue(orphan.hint().contains("io.loadstone.loader-llamacpp"), orphan.hint());

        Bundle back = Framework.install(Framework.testBundle("loader-llamacpp.jar"));
        back.start();
        Framework.await("loader back", WAIT, () -> hasLoader("llama.cpp"));
        manager.load("stories260K.gguf", null, Map.of("n_ctx", 256));
        assertEquals(STORY, greedy(null, "Once upon a time", 30));
    }

    @Test
    void nativeRuntimeUpdatedWhileRunning() throws Exception {
        manager.load("stories260K.gguf", null, Map.of("n_ctx", 256));
        Bundle runtime = Framework.bundle(RUNTIME_BSN);
        // Update + refresh replaces the runtime and its fragment's class loader: the native
        // library must be loaded again, from a fresh private copy.
        try (var jar = Files.newInputStream(Framework.testBundle("llamacpp.jar"))) {
            runtime.update(jar); // from the jar, not the location: the Plugins tab test may have installed it by upload
        }
        Framework.context().getBundle(0).adapt(FrameworkWiring.class).refreshBundles(List.of(runtime));
        Framework.await("model closed by the refresh", WAIT, () -> manager.loaded().isEmpty());
        Framework.await("loader back after refresh", WAIT, () -> hasLoader("llama.cpp"));
        manager.load("stories260K.gguf", null, Map.of("n_ctx", 256));
        assertEquals(STORY, greedy(null, "Once upon a time", 30));
    }

    /**
     * The Plugins tab replacing the runtime bundle (an upload of its jar over HTTP, as an update, and as a
     * new install after an uninstall) brings every llama.cpp loader back by itself: nobody has to press
     * Start on them.
     */
    @Test
    void nativeRuntimeReuploadedFromThePluginsTabBringsItsLoadersBack() throws Exception {
        Framework.await("all llama.cpp loaders", WAIT, () -> LLAMA_LOADERS.stream().allMatch(this::hasLoader));
        manager.load("stories260K.gguf", "llama.cpp", Map.of("n_ctx", 256));
        WebServer web = WebServer.start();
        String token = web.pageToken();

        var r = uploadRuntime(web, token);
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.body().contains("Updated " + RUNTIME_BSN), r.body());
        awaitLoadersBackAndWorking();

        // Uninstalled: the loaders lose their imports and are unresolved by the refresh...
        var uninstall = web.post("ui/api/plugins/" + Framework.bundle(RUNTIME_BSN).getBundleId() + "/uninstall",
                "{}", "X-Loadstone-Token", token);
        assertEquals(200, uninstall.statusCode(), uninstall.body());
        Framework.await("the loaders gone with the runtime", WAIT, () -> LLAMA_LOADERS.stream().noneMatch(
                this::hasLoader));
        assertEquals(Bundle.INSTALLED, Framework.bundle(LOADER_BSN).getState());
        // ... and installed again, they start again, as they were meant to run.
        r = uploadRuntime(web, token);
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.body().contains("Installed " + RUNTIME_BSN) && r.body().contains("Started again: ")
                && r.body().contains(LOADER_BSN), r.body());
        awaitLoadersBackAndWorking();
    }

    private static final List<String> LLAMA_LOADERS = List.of("llama.cpp", "llamacpp_HF", "ctransformers");

    private static java.net.http.HttpResponse<String> uploadRuntime(WebServer web, String token) throws Exception {
        return web.client.send(java.net.http.HttpRequest.newBuilder(web.base.resolve("ui/api/plugins/install"))
                .header("Content-Type", "application/java-archive").header("X-File-Name", "llamacpp.jar")
                .header("X-Loadstone-Token", token).timeout(Duration.ofSeconds(60))
                .POST(java.net.http.HttpRequest.BodyPublishers.ofFile(Framework.testBundle("llamacpp.jar"))).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    }

    private void awaitLoadersBackAndWorking() throws Exception {
        List<String> bundles = List.of(LOADER_BSN, "io.loadstone.loader-llamacpp-hf",
                "io.loadstone.loader-ctransformers");
        Framework.await("the loaders back by themselves", WAIT, () -> LLAMA_LOADERS.stream().allMatch(
                this::hasLoader));
        for (String b : bundles) {
            assertEquals(Bundle.ACTIVE, Framework.bundle(b).getState(), b);
        }
        manager.load("stories260K.gguf", null, Map.of("n_ctx", 256));
        assertEquals(STORY, greedy(null, "Once upon a time", 30));
    }

    @Test
    void corruptFilesGetClearErrorsAndTheRuntimeLives() throws Exception {
        byte[] good = Files.readAllBytes(models.resolve("stories260K.gguf"));
        manager.load("stories260K.gguf", null, Map.of("n_ctx", 256));

        Map<String, byte[]> bad = new java.util.LinkedHashMap<>();
        bad.put("truncated.gguf", Arrays.copyOf(good, good.length / 2));
        byte[] magic = good.clone();
        magic[0] = 'X';
        bad.put("wrong-magic.gguf", magic);
        bad.put("offset-past-end.gguf", patchTensor(good, "output.weight", (buf, dimsAt, nDims) -> buf.putLong(
                dimsAt + 8 * nDims + 4, 1L << 40)));
        bad.put("absurd-dimension.gguf", patchTensor(good, "output.weight", (buf, dimsAt, nDims) -> buf.putLong(
                dimsAt, 1L << 50)));
        for (var e : bad.entrySet()) {
            Files.write(models.resolve(e.getKey()), e.getValue());
        }
        manager.refresh();
        for (String name : bad.keySet()) {
            ModelEntry listed = manager.models().stream().filter(m -> m.name().equals(name)).findFirst()
                    .orElseThrow();
            assertTrue(listed.candidates().isEmpty(), name + " is offered to no loader");
            assertTrue(listed.hint().startsWith("The llama.cpp loader cannot load it: ") && listed.hint().contains(
                    name), "the model list says why, naming the file: " + listed.hint());
        }
        for (String name : bad.keySet()) {
            ModelLoadException ex = assertThrows(ModelLoadException.class, () -> manager.load(name, "llama.cpp",
                    Map.of()), name);
            assertTrue(ex.getMessage().contains(name), "names the file: " + ex.userMessage());
            assertFalse(ex.userMessage().isBlank());
        }
        // Still alive, and the good model still works.
        assertEquals(1, manager.loaded().size());
        assertEquals(STORY, greedy("stories260K.gguf", "Once upon a time", 30));
    }

    @Test
    void promptLongerThanTheContextKeepsItsEndAndGenerates() throws Exception {
        manager.load("stories260K.gguf", null, Map.of("n_ctx", 64));
        String longPrompt = "Once upon a time there was a dog. ".repeat(40) + "Once upon a time";
        GenerationResult r = manager.generate("stories260K.gguf", GenerationRequest.greedy(longPrompt, 16),
                (id, t) -> true);
        assertTrue(r.promptTokens() <= 48, "the prompt was cut to fit 64 - 16: " + r.promptTokens());
        assertEquals(16, r.generatedTokens());
        assertEquals(StopReason.LENGTH, r.reason());
    }

    @Test
    void defaultLoaderPerFormatDecidesBetweenEqualCandidates() throws Exception {
        Path both = Files.createDirectories(models.resolve("both"));
        Files.copy(models.resolve("stories260K.gguf"), both.resolve("stories260K.gguf"));
        Files.writeString(both.resolve("echo-model.txt"), "an echo model beside a gguf");
        Bundle echo = Framework.install(Framework.testBundle("itest-loader.jar"));
        echo.start();
        try {
            Framework.await("echo loader", WAIT, () -> hasLoader("itest-echo"));
            manager.refresh();
            ModelEntry e = manager.models().stream().filter(m -> m.name().equals("both")).findFirst().orElseThrow();
            // The echo loader and llama.cpp tie at the top (ctransformers also runs llama GGUF, ranked last).
            assertEquals(e.candidates().get(0).detection().score(), e.candidates().get(1).detection().score(),
                    e.candidates().toString());
            Framework.configure("io.loadstone.core", Framework.props("models.dir", models.toString(),
                    "max.loaded.models", 3, "default.loaders", new String[] { "gguf=llama.cpp" }));
            Framework.await("default loaders applied", WAIT, () -> {
                try {
                    return "llama.cpp".equals(manager.settings("both").loader());
                } catch (ModelLoadException ex) {
                    return false;
                }
            });
            assertEquals("llama.cpp", manager.load("both", null, Map.of("n_ctx", 128)).info().loaderId());
        } finally {
            echo.uninstall();
        }
    }

    @FunctionalInterface
    interface TensorPatch {
        void apply(ByteBuffer buf, int dimsAt, int nDims);
    }

    /**
     * Finds a tensor's entry in the tensor table (u64 name length, name, u32 n_dims,
     * u64 dims[n_dims], u32 type, u64 offset) and lets {@code patch} change it.
     */
    static byte[] patchTensor(byte[] gguf, String tensor, TensorPatch patch) {
        byte[] copy = gguf.clone();
        byte[] name = tensor.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 8; i + 8 + name.length + 4 < copy.length; i++) {
            if (buf.getLong(i - 8) == (long) name.length && Arrays.equals(copy, i, i + name.length, name, 0,
                    name.length)) {
                int nDims = buf.getInt(i + name.length);
                if (nDims >= 1 && nDims <= 4) {
                    patch.apply(buf, i + name.length + 4, nDims);
                    return copy;
                }
            }
        }
        throw new AssertionError("tensor " + tensor + " not found");
    }
}
