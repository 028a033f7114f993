package io.loadstone.ui.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import com.google.gson.JsonParser;

import io.loadstone.ui.http.ApiException;

class ParamsTest {

    private static Params p(String json) {
        return new Params(JsonParser.parseString(json).getAsJsonObject());
    }

    @Test
    void readsSamplersWithTheirTypes() throws Exception {
        Map<String, Object> out = new HashMap<>();
        p("{\"temperature\":0.5,\"top_k\":40,\"do_sample\":false,\"top_p\":null,\"unrelated\":1}").samplers(out);
        assertEquals(Map.of("temperature", 0.5, "top_k", 40L, "do_sample", false), out);
    }

    @Test
    void refusalsNameTheParameterAndTheRange() {
        ApiException e = assertThrows(ApiException.class, () -> p("{\"top_p\":1.5}").samplers(new HashMap<>()));
        assertEquals("top_p", e.param());
        assertEquals(400, e.status());
        assertTrue(e.getMessage().contains("between 0 and 1"), e.getMessage());
        e = assertThrows(ApiException.class, () -> p("{\"top_k\":2.5}").samplers(new HashMap<>()));
        assertTrue(e.getMessage().contains("whole number"), e.getMessage());
        e = assertThrows(ApiException.class, () -> p("{\"temperature\":\"hot\"}").samplers(new HashMap<>()));
        assertTrue(e.getMessage().contains("must be a number, not a string"), e.getMessage());
        e = assertThrows(ApiException.class, () -> p("{\"stop\":[1]}").stop("stop"));
        assertEquals("stop", e.param());
    }

    @Test
    void stopTakesAStringOrAList() throws Exception {
        assertEquals(List.of("\n"), p("{\"stop\":\"\\n\"}").stop("stop"));
        assertEquals(List.of("a", "b"), p("{\"stop\":[\"a\",\"\",\"b\"]}").stop("stop"));
        assertEquals(List.of(), p("{}").stop("stop"));
        assertNull(p("{}").integer("max_tokens", 1, 10));
    }
}
