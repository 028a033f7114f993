package io.loadstone.ui.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import com.google.gson.JsonParser;

import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelInfo;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.ui.http.ApiException;

/** The HTTP side of applying LoRAs: request parsing and which status each refusal gets. */
class LoraActionsTest {

    /** A runtime with {@code loaded} models whose setLoras answers with {@code answer}. */
    private static ModelManager manager(List<String> loaded, ModelLoadException refusal) {
        return (ModelManager) Proxy.newProxyInstance(LoraActionsTest.class.getClassLoader(), new Class<?>[] {
                ModelManager.class }, (p, m, a) -> switch (m.getName()) {
                    case "loaded" -> a == null ? loaded.stream().map(LoraActionsTest::state).toList()
                            : loaded.contains(a[0]) ? Optional.of(state((String) a[0])) : Optional.empty();
                    case "setLoras" -> {
                        if (refusal != null) {
                            throw refusal;
                        }
                        @SuppressWarnings("unchecked")
                        List<String> names = (List<String>) a[1];
                        yield names.stream().map(n -> new LoraAdapter(n, Path.of("loras", n), 1.0)).toList();
                    }
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    private static LoadedModelState state(String name) {
        return new LoadedModelState(name, new ModelInfo("x", "", 0, 0, 0, "", List.of(), Map.of()), Instant.now(),
                Instant.now(), 0);
    }

    @Test
    void noModelIsAConflictAndRefusalsAreBadRequestsWithTheRuntimesMessage() throws Exception {
        ApiException e = assertThrows(ApiException.class, () -> LoraActions.apply(manager(List.of(), null), null,
                List.of("a"), null));
        assertEquals(409, e.status());
        assertEquals("no_model_loaded", e.code());
        e = assertThrows(ApiException.class, () -> LoraActions.apply(manager(List.of("m"), null), "other",
                List.of("a"), null));
        assertEquals(409, e.status());
        assertTrue(e.getMessage().contains("'other' is not loaded"), e.getMessage());

        e = assertThrows(ApiException.class, () -> LoraActions.apply(manager(List.of("m"), new ModelLoadException(
                "There is no LoRA named 'z' in /l.", "Known LoRAs: a, b.")), null, List.of("z"), null));
        assertEquals(400, e.status());
        assertEquals("lora_not_found", e.code());
        assertEquals("There is no LoRA named 'z' in /l. Known LoRAs: a, b.", e.getMessage());
        e = assertThrows(ApiException.class, () -> LoraActions.apply(manager(List.of("m"), new ModelLoadException(
                "The echo loader cannot apply LoRA adapters.", "Use llama.cpp.")), "m", List.of("a"), null));
        assertEquals(400, e.status());
        assertEquals("lora_refused", e.code());

        assertEquals(List.of("a", "b"), LoraActions.apply(manager(List.of("m"), null), null, List.of("a", "b"), null)
                .stream().map(LoraAdapter::name).toList());
    }

    @Test
    void namesAndScalesAreListsOfTheRightType() throws Exception {
        assertEquals(List.of("a", "b"), LoraActions.names(JsonParser.parseString("[\"a\",\"b\"]"), "lora_names"));
        assertEquals(List.of(), LoraActions.names(null, "lora_names"));
        assertEquals("lora_names", assertThrows(ApiException.class, () -> LoraActions.names(JsonParser.parseString(
                "\"a\""), "lora_names")).param());
        assertThrows(ApiException.class, () -> LoraActions.names(JsonParser.parseString("[1]"), "lora_names"));
        assertThrows(ApiException.class, () -> LoraActions.names(JsonParser.parseString("[\"\"]"), "lora_names"));
        assertNull(LoraActions.scales(null, "lora_scales"));
        assertEquals(List.of(1.0, 0.5), LoraActions.scales(JsonParser.parseString("[1, 0.5]"), "lora_scales"));
        assertThrows(ApiException.class, () -> LoraActions.scales(JsonParser.parseString("[\"x\"]"), "lora_scales"));
    }
}
