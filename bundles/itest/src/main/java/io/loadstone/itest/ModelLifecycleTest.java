package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceRegistration;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.ModelEvent;
import io.loadstone.api.runtime.ModelEventListener;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.api.runtime.ModelSettings;

/**
 * Model menu semantics: a failed load never leaves the user with nothing, models share a
 * memory budget (least recently used goes first), settings are saved and come back.
 */
class ModelLifecycleTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    private ModelManager manager;
    private Path models;
    private Bundle echo;
    private final List<ModelEvent> events = new CopyOnWriteArrayList<>();
    private ServiceRegistration<ModelEventListener> listener;

    /** An echo model of about {@code kb} KB (its size is what the memory budget counts). */
    private void echoModel(String name, int kb) throws Exception {
        Path dir = Files.createDirectories(models.resolve(name));
        StringBuilder sb = new StringBuilder(name);
        while (sb.length() < kb * 1024) {
            sb.append(" word");
        }
        Files.writeString(dir.resolve("echo-model.txt"), sb);
    }

    @BeforeEach
    void setUp() throws Exception {
        models = Framework.workDir("lifecycle-models");
        echoModel("small-a", 600);
        echoModel("small-b", 600);
        echoModel("small-c", 100);
        // 1 MB budget: two 600 KB models do not fit together; up to 5 may be loaded by count.
        manager = Framework.useModels(models, "max.loaded.models", 5, "memory.budget.mb", 1L);
        echo = Framework.startEchoLoader(manager);
        listener = Framework.context().registerService(ModelEventListener.class, events::add, null);
    }

    @AfterEach
    void tearDown() throws Exception {
        listener.unregister();
        echo.uninstall();
    }

    private List<String> loadedNames() {
        return manager.loaded().stream().map(LoadedModelState::name).sorted().toList();
    }

    @Test
    void budgetEvictsLeastRecentlyUsedAndAFailedLoadRestoresIt() throws Exception {
        manager.load("small-a", null, Map.of());
        manager.load("small-c", null, Map.of());
        assertEquals(List.of("small-a", "small-c"), loadedNames(), "700 KB fit in 1 MB");

        manager.load("small-b", null, Map.of());
        assertEquals(List.of("small-b", "small-c"), loadedNames(), "small-a (least recently used) made room");
        Framework.await("eviction event", WAIT, () -> events.stream().anyMatch(e -> e.type()
                == ModelEvent.Type.UNLOADED && e.model().equals("small-a") && e.message().contains("make room")));

        // small-a needs room again: small-c then small-b... the load fails on purpose, and
        // everything that was unloaded for it comes back.
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> manager.load("small-a", null, Map.of(
                "fail", true)));
        assertTrue(e.getMessage().contains("small-a"), e.getMessage());
        assertEquals(List.of("small-b", "small-c"), loadedNames(), "nothing lost by the failed load");
        // Events reach listeners on the runtime's event thread: wait for it, do not look once.
        Framework.await("LOAD_FAILED event", WAIT, () -> events.stream().anyMatch(ev -> ev.type()
                == ModelEvent.Type.LOAD_FAILED && ev.model().equals("small-a")));
    }

    @Test
    void failedReloadOfTheSameModelKeepsTheWorkingOne() throws Exception {
        manager.load("small-c", null, Map.of("delay_ms", 1));
        assertThrows(ModelLoadException.class, () -> manager.load("small-c", null, Map.of("fail", true)));
        assertEquals(List.of("small-c"), loadedNames());
        assertEquals(1L, manager.loaded("small-c").orElseThrow().info().effectiveOptions().get("delay_ms"),
                "still the instance loaded before, with its options");
    }

    @Test
    void tooBigForTheBudgetIsRefusedUpFront() throws Exception {
        echoModel("huge", 1500);
        manager.load("small-c", null, Map.of());
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> manager.load("huge", null, Map.of()));
        assertTrue(e.getMessage().contains("memory budget") && e.fix().contains("memory.budget.mb"), e.userMessage());
        assertEquals(List.of("small-c"), loadedNames());
    }

    @Test
    void savedSettingsComeBackWhenTheModelIsSelected() throws Exception {
        ModelSettings before = manager.settings("small-c");
        assertEquals("itest-echo", before.loader());
        assertEquals(0L, before.options().get("delay_ms"));

        Path file = manager.saveSettings("small-c", "itest-echo", Map.of("delay_ms", "25"));
        assertTrue(Files.readString(file).contains("\"delay_ms\": 25"), Files.readString(file));
        ModelSettings after = manager.settings("small-c");
        assertEquals(25L, after.options().get("delay_ms"));
        assertTrue(after.sources().contains("saved in config-user.json"), after.sources().toString());

        ModelLoadException e = assertThrows(ModelLoadException.class, () -> manager.saveSettings("small-c",
                "itest-echo", Map.of("delay_ms", 99_999)));
        assertTrue(e.getMessage().contains("delay_ms"), e.getMessage());
    }
}
