package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceRegistration;

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
 * A third-party loader bundle (built against the API alone) installed, used, uninstalled
 * mid-generation and installed again, in a running framework.
 */
class LoaderHotSwapTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    private ModelManager manager;
    private Path models;
    private final List<ModelEvent> events = new CopyOnWriteArrayList<>();
    private ServiceRegistration<ModelEventListener> listener;
    private Bundle echo;

    @BeforeEach
    void setUp() throws Exception {
        models = Framework.workDir("hotswap-models");
        Path m = Files.createDirectories(models.resolve("echo-story"));
        Files.writeString(m.resolve("echo-model.txt"), "the quick brown fox jumps over the lazy dog");
        manager = Framework.service(ModelManager.class, WAIT);
        Framework.configure("io.loadstone.core", Framework.props("models.dir", models.toString(),
                "max.loaded.models", 2));
        Framework.await("models folder configured (is " + manager.modelsDir() + ", want " + models + ")\n"
                + Framework.diagnose(), WAIT,
                () -> manager.modelsDir().equals(models));
        listener = Framework.context().registerService(ModelEventListener.class, events::add, null);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (echo != null && echo.getState() != Bundle.UNINSTALLED) {
            echo.uninstall();
        }
        listener.unregister();
    }

    private boolean hasLoader(String id) {
        return manager.loaders().stream().map(LoaderInfo::id).anyMatch(id::equals);
    }

    private ModelEntry entry(String name) {
        return manager.models().stream().filter(e -> e.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void loaderAppearsIsUsedDisappearsMidGenerationAndComesBack() throws Exception {
        assertFalse(hasLoader("itest-echo"));
        ModelEntry before = entry("echo-story");
        assertTrue(before.candidates().isEmpty());
        assertFalse(before.hint().isEmpty(), "a model nobody can load says why");

        echo = Framework.install(Framework.testBundle("itest-loader.jar"));
        echo.start();
        Framework.await("echo loader discovered", WAIT, () -> hasLoader("itest-echo"));
        assertEquals("itest-echo", entry("echo-story").bestLoader());

        manager.load("echo-story", null, Map.of("delay_ms", 0));
        StringBuilder text = new StringBuilder();
        GenerationResult r = manager.generate("echo-story", GenerationRequest.greedy("x", 4), (id, t) -> {
            text.append(t);
            return true;
        });
        assertEquals("the quick brown fox", text.toString());
        assertEquals(StopReason.LENGTH, r.reason());

        // Slow generation, then the loader bundle goes away under it.
        manager.load("echo-story", null, Map.of("delay_ms", 50));
        CountDownLatch started = new CountDownLatch(3);
        CompletableFuture<GenerationResult> running = CompletableFuture.supplyAsync(() -> {
            try {
                return manager.generate("echo-story", GenerationRequest.greedy("x", 10_000), (id, t) -> {
                    started.countDown();
                    return true;
                });
            } catch (ModelLoadException e) {
                throw new RuntimeException(e);
            }
        });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        echo.uninstall();
        GenerationResult cut = running.get(10, TimeUnit.SECONDS);
        assertEquals(StopReason.CLOSED, cut.reason(), "generation ends, the runtime lives");
        assertTrue(manager.loaded().isEmpty());
        assertFalse(hasLoader("itest-echo"));
        Framework.await("LOADER_GONE event", WAIT, () -> events.stream().anyMatch(e -> e.type()
                == ModelEvent.Type.LOADER_GONE && e.model().equals("echo-story") && e.message().contains(
                        "went away")));
        ModelLoadException gone = assertThrows(ModelLoadException.class, () -> manager.generate("echo-story",
                GenerationRequest.greedy("x", 1), (id, t) -> true));
        assertTrue(gone.getMessage().contains("not loaded"), gone.getMessage());

        // Back again without restarting anything.
        echo = Framework.install(Framework.testBundle("itest-loader.jar"));
        echo.start();
        Framework.await("echo loader back", WAIT, () -> hasLoader("itest-echo"));
        manager.load("echo-story", "itest-echo", Map.of());
        StringBuilder again = new StringBuilder();
        manager.generate(null, GenerationRequest.greedy("x", 2), (id, t) -> again.append(t) != null);
        assertEquals("the quick", again.toString());
    }

    @Test
    void badRequestsGetClearMessagesAndChangeNothing() throws Exception {
        echo = Framework.install(Framework.testBundle("itest-loader.jar"));
        echo.start();
        Framework.await("echo loader discovered", WAIT, () -> hasLoader("itest-echo"));
        manager.load("echo-story", null, Map.of());

        var e = assertThrows(ModelLoadException.class, () -> manager.load("no-such-model", null, Map.of()));
        assertTrue(e.getMessage().contains("no-such-model") && e.fix().contains("echo-story"), e.userMessage());
        e = assertThrows(ModelLoadException.class, () -> manager.load("echo-story", "ExLlamav2", Map.of()));
        assertTrue(e.getMessage().contains("ExLlamav2") && e.fix().contains("itest-echo"), e.userMessage());
        e = assertThrows(ModelLoadException.class, () -> manager.load("echo-story", null, Map.of("delay_ms",
                -5)));
        assertTrue(e.getMessage().contains("delay_ms") && e.getMessage().contains("between 0 and 10000"),
                e.userMessage());
        e = assertThrows(ModelLoadException.class, () -> manager.load("echo-story", null, Map.of("n_ctx", 5)));
        assertTrue(e.getMessage().contains("Unknown option 'n_ctx'"), e.userMessage());
        e = assertThrows(ModelLoadException.class, () -> manager.generate("echo-story", new GenerationRequest("x",
                3, Map.of("top_a", 0.2, "tfs", 0.9), List.of(), true, false, ""), (id, t) -> true));
        assertTrue(e.getMessage().contains("does not support tfs, top_a"), e.userMessage());

        // The model that was loaded before the failed attempts is still there and works.
        assertEquals(1, manager.loaded().size());
        StringBuilder text = new StringBuilder();
        manager.generate("echo-story", GenerationRequest.greedy("x", 1), (id, t) -> text.append(t) != null);
        assertEquals("the", text.toString());
    }
}
