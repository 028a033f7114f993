package io.loadstone.loader.options;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.api.loader.OptionType;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The table itself: one declaration per name, each default valid against its own range. */
class WebuiOptionsTest {

    static List<OptionSpec> all() throws IllegalAccessException {
        List<OptionSpec> out = new ArrayList<>();
        for (Field f : WebuiOptions.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == OptionSpec.class) {
                out.add((OptionSpec) f.get(null));
            }
        }
        return out;
    }

    @Test
    void everyNameIsDeclaredOnceWithAValidDefaultAndHelp() throws Exception {
        List<OptionSpec> specs = all();
        assertTrue(specs.size() >= 30, "the table: " + specs.size());
        assertEquals(specs.size(), new HashSet<>(specs.stream().map(OptionSpec::name).toList()).size(),
                "one declaration per name");
        // Every default passes the table's own validation unchanged.
        for (OptionSpec s : specs) {
            assertEquals(s.defaultValue(), LoaderOptions.validate(List.of(s), Map.of(s.name(), s.defaultValue()))
                    .asMap().get(s.name()), s.name());
            assertFalse(s.help().isBlank(), s.name());
            assertEquals(null, s.applies(), s.name() + ": the table says nothing about a backend");
        }
    }

    @Test
    void typesAreTextGenerationWebuis() {
        assertEquals(OptionType.NUMBER, WebuiOptions.ROPE_FREQ_BASE.type(), "a decimal for every loader");
        assertEquals(OptionType.NUMBER, WebuiOptions.ALPHA_VALUE.type());
        assertEquals(8.0, WebuiOptions.ALPHA_VALUE.max());
        assertEquals(OptionType.INTEGER, WebuiOptions.WBITS.type());
        assertEquals(-1L, WebuiOptions.GROUPSIZE.defaultValue(), "webui's --groupsize -1");
        assertEquals(List.of("None", "llama", "opt", "gptj"), WebuiOptions.MODEL_TYPE.choices());
        assertEquals(100.0, WebuiOptions.PRE_LAYER.max());
    }
}
