package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceRegistration;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelEvent;
import io.loadstone.api.runtime.ModelEventListener;
import io.loadstone.api.runtime.ModelManager;

/**
 * Each llama.cpp model runs in its own runner process: killing one mid-generation is a clean
 * error for that model, while the server and the other model go on and the next load works;
 * unloading a model, or stopping the runtime bundle, leaves no runner process behind.
 */
class NativeRunnerTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String RUNNER_MAIN = "io.loadstone.llamacpp.runner.RunnerMain";

    private ModelManager manager;

    @BeforeEach
    void setUp() throws Exception {
        Path models = Framework.workDir("runner-models");
        Files.copy(Framework.testBundle("stories260K.gguf"), models.resolve("stories260K.gguf"));
        Files.copy(Framework.testBundle("stories260K.gguf"), models.resolve("bystander.gguf"));
        manager = Framework.useModels(models, "max.loaded.models", 3);
        Framework.await("llama.cpp loader", WAIT,
                () -> manager.loaders().stream().map(LoaderInfo::id).anyMatch("llama.cpp"::equals));
    }

    @AfterEach
    void tearDown() {
        manager.loaded().forEach(s -> manager.unload(s.name()));
    }

    /** The runner processes this JVM started, as the operating system sees them. */
    static List<ProcessHandle> runners() {
        return ProcessHandle.current().children()
                .filter(p -> p.info().commandLine().orElse("").contains(RUNNER_MAIN)).toList();
    }

    private String greedy(String model, int n) throws ModelLoadException {
        return manager.generate(model, GenerationRequest.greedy("Once upon a time", n), (id, t) -> true).text();
    }

    @Test
    void aRunnerKilledMidGenerationIsACleanErrorForThatModelOnly() throws Exception {
        manager.load("bystander.gguf", "llama.cpp", Map.of("n_ctx", 256));
        List<ProcessHandle> before = runners();
        manager.load("stories260K.gguf", "llama.cpp", Map.of("n_ctx", 256));
        List<ProcessHandle> victims = runners().stream().filter(p -> !before.contains(p)).toList();
        assertEquals(1, victims.size(), "one runner per loaded model: " + runners());

        AtomicInteger tokens = new AtomicInteger();
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> manager.generate("stories260K.gguf",
                GenerationRequest.greedy("Once upon a time", 200), (id, t) -> {
                    if (tokens.incrementAndGet() == 3) {
                        victims.get(0).destroyForcibly(); // kill -9, between two tokens
                        victims.get(0).onExit().join();
                    }
                    return true;
                }));
        assertEquals(3, tokens.get(), "the stream stopped at the kill");
        assertTrue(e.getMessage().contains("stories260K.gguf") && e.getMessage().contains("runner")
                && e.getMessage().contains("stopped"), e.getMessage());

        // The server and the other model live on.
        assertEquals(LlamaCppLoaderTest.STORY, greedy("bystander.gguf", 30));
        // The dead model is unloaded by itself; loading it again works.
        Framework.await("the dead model unloaded", WAIT, () -> manager.loaded("stories260K.gguf").isEmpty());
        ModelLoadException gone = assertThrows(ModelLoadException.class, () -> greedy("stories260K.gguf", 5));
        assertTrue(gone.getMessage().contains("not loaded"), gone.getMessage());
        manager.load("stories260K.gguf", "llama.cpp", Map.of("n_ctx", 256));
        assertEquals(LlamaCppLoaderTest.STORY, greedy("stories260K.gguf", 30));
    }

    /**
     * A runner killed while nobody uses its model: the runtime notices the exit itself, unloads the
     * model with an UNLOADED event quoting why, and HTTP clients see it gone; the other model stays.
     */
    @Test
    void aRunnerKilledWhileIdleUnloadsItsModelWithTheReason() throws Exception {
        WebServer web = WebServer.start();
        List<ModelEvent> events = new CopyOnWriteArrayList<>();
        ServiceRegistration<ModelEventListener> listener = Framework.context().registerService(
                ModelEventListener.class, events::add, null);
        try {
            manager.load("bystander.gguf", "llama.cpp", Map.of("n_ctx", 256));
            List<ProcessHandle> before = runners();
            manager.load("stories260K.gguf", "llama.cpp", Map.of("n_ctx", 256));
            ProcessHandle victim = runners().stream().filter(p -> !before.contains(p)).findFirst().orElseThrow();
            assertTrue(web.get("v1/internal/model/info").body().contains("stories260K.gguf"));

            victim.destroyForcibly(); // kill -9; no request is running
            Framework.await("the dead model unloaded without anyone calling it", WAIT,
                    () -> manager.loaded("stories260K.gguf").isEmpty());
            Framework.await("its UNLOADED event", WAIT, () -> events.stream().anyMatch(e -> e.type()
                    == ModelEvent.Type.UNLOADED && e.model().equals("stories260K.gguf")));
            ModelEvent why = events.stream().filter(e -> e.type() == ModelEvent.Type.UNLOADED
                    && e.model().equals("stories260K.gguf")).findFirst().orElseThrow();
            assertTrue(why.message().contains("runner for stories260K.gguf stopped") && why.message().contains(
                    "SIGKILL") && why.message().contains("load it again"), why.message());
            assertEquals("llama.cpp", why.loader());

            String info = web.get("v1/internal/model/info").body();
            assertTrue(info.contains("bystander.gguf") && !info.contains("stories260K.gguf"), info);
            assertEquals(List.of("bystander.gguf"), manager.loaded().stream().map(s -> s.name()).toList());
            assertEquals(LlamaCppLoaderTest.STORY, greedy("bystander.gguf", 30));
            // An unload of our own is no failure: no second event, however the process ended.
            manager.unload("bystander.gguf");
            Thread.sleep(500);
            assertTrue(events.stream().noneMatch(e -> e.model().equals("bystander.gguf") && e.message().contains(
                    "stopped")), events.toString());
        } finally {
            listener.unregister();
        }
    }

    /** Over HTTP: a streamed completion whose runner is killed ends with an error event naming the model. */
    @Test
    void aStreamingClientGetsAnErrorEventWhenTheRunnerDies() throws Exception {
        WebServer web = WebServer.start();
        List<ProcessHandle> before = runners();
        manager.load("stories260K.gguf", "llama.cpp", Map.of("n_ctx", 2048));
        ProcessHandle victim = runners().stream().filter(p -> !before.contains(p)).findFirst().orElseThrow();
        HttpRequest request = HttpRequest.newBuilder(web.base.resolve("v1/completions")).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                        "{\"prompt\":\"Once upon a time\",\"max_tokens\":2000,\"ban_eos_token\":true,"
                                + "\"temperature\":0,\"stream\":true}"))
                .build();
        HttpResponse<java.util.stream.Stream<String>> r = web.client.send(request,
                HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, r.statusCode());
        List<String> data = new java.util.ArrayList<>();
        r.body().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).forEach(d -> {
            data.add(d);
            if (data.size() == 3) {
                victim.destroyForcibly(); // kill -9 while tokens stream
            }
        });
        assertTrue(data.size() < 2000, "the stream stopped early: " + data.size() + " events");
        assertEquals("[DONE]", data.get(data.size() - 1));
        String error = data.get(data.size() - 2);
        assertTrue(error.contains("\"error\"") && error.contains("stories260K.gguf") && error.contains("stopped"),
                error);
        // The server answers on.
        assertEquals(200, web.get("v1/models").statusCode());
    }

    /** {@code in.process=true} (PID io.loadstone.llamacpp) brings back llama.cpp inside the server, for tiny models. */
    @Test
    void theInProcessOptionRunsModelsWithoutARunner() throws Exception {
        List<ProcessHandle> before = runners();
        try {
            Framework.configure("io.loadstone.llamacpp", Framework.props("in.process", true));
            Framework.await("the runtime restarted in process", WAIT, () -> manager.loaders().stream()
                    .anyMatch(l -> l.id().equals("llama.cpp")) && loadsWithoutRunner(before));
            assertEquals(LlamaCppLoaderTest.STORY, greedy("stories260K.gguf", 30));
        } finally {
            Framework.configure("io.loadstone.llamacpp", Framework.props("in.process", false));
        }
        Framework.await("the runtime back with runners", WAIT, () -> {
            try {
                manager.load("stories260K.gguf", "llama.cpp", Map.of("n_ctx", 256));
                return runners().size() > before.size();
            } catch (ModelLoadException | RuntimeException notYet) {
                return false;
            }
        });
        assertEquals(LlamaCppLoaderTest.STORY, greedy("stories260K.gguf", 30));
    }

    /** Loads stories260K if the runtime takes it now; true when no runner process came with it. */
    private boolean loadsWithoutRunner(List<ProcessHandle> before) {
        try {
            manager.load("stories260K.gguf", "llama.cpp", Map.of("n_ctx", 256));
            return runners().size() == before.size();
        } catch (ModelLoadException | RuntimeException notYet) {
            return false;
        }
    }

    @Test
    void noRunnerOutlivesItsModelOrTheRuntimeBundle() throws Exception {
        List<ProcessHandle> before = runners();
        manager.load("stories260K.gguf", "llama.cpp", Map.of("n_ctx", 256));
        manager.load("bystander.gguf", "llama.cpp", Map.of("n_ctx", 256));
        List<ProcessHandle> ours = runners().stream().filter(p -> !before.contains(p)).toList();
        assertEquals(2, ours.size(), runners().toString());

        manager.unload("stories260K.gguf");
        Framework.await("one runner ended with its model", WAIT, () -> ours.stream().filter(ProcessHandle::isAlive)
                .count() == 1);

        Bundle runtime = Framework.bundle(LlamaCppLoaderTest.RUNTIME_BSN);
        runtime.stop();
        try {
            Framework.await("the other runner ended with the runtime", WAIT,
                    () -> ours.stream().noneMatch(ProcessHandle::isAlive));
            assertTrue(runners().isEmpty(), "no runner left: " + runners());
            assertTrue(manager.loaded().isEmpty(), "its model was closed");
        } finally {
            runtime.start();
        }
        Framework.await("llama.cpp loader back", WAIT,
                () -> manager.loaders().stream().map(LoaderInfo::id).anyMatch("llama.cpp"::equals));
        manager.load("stories260K.gguf", "llama.cpp", Map.of("n_ctx", 256));
        assertEquals(LlamaCppLoaderTest.STORY, greedy("stories260K.gguf", 30));
    }
}
