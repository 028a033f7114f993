package io.loadstone.engine.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** The strictness the safetensors and config readers rely on. */
class JsonTest {

    @Test
    void readsTheValuesHeadersUse() throws Exception {
        Map<String, Object> m = Json.parseObject(
                " {\"a\": [1, -2, 18446744073709551615, 1.5e-3, true, null], \"b\\u00e9\\n\": {\"c\": \"x\\\"y\"}}   ");
        List<?> a = (List<?>) m.get("a");
        assertEquals(1L, a.get(0));
        assertEquals(-2L, a.get(1));
        assertEquals(new BigInteger("18446744073709551615"), a.get(2));
        assertEquals(1.5e-3, a.get(3));
        assertEquals(Boolean.TRUE, a.get(4));
        assertSame(Json.NULL, a.get(5));
        assertEquals("x\"y", ((Map<?, ?>) m.get("bé\n")).get("c"));
        assertInstanceOf(Long.class, Json.parse("9223372036854775807"));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "{\"a\":1,\"a\":2}", "{\"a\":1,}", "[1,]", "{'a':1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}",
        "{\"a\":\"\u0001\"}", "{\"a\":\"\\x\"}", "{\"a\":tru}", "{} {}", "{\"a\":NaN}", "", "{\"a\":\"open}",
    })
    void refusesWhatStrictJsonForbids(String text) {
        JsonException e = assertThrows(JsonException.class, () -> Json.parse(text));
        assertTrue(e.getMessage().contains("at character"), e.getMessage());
    }

    @Test
    void deepNestingIsAnErrorNotAStackOverflow() {
        String deep = "[".repeat(100_000);
        JsonException e = assertThrows(JsonException.class, () -> Json.parse(deep));
        assertTrue(e.getMessage().contains("nesting deeper"), e.getMessage());
    }
}
