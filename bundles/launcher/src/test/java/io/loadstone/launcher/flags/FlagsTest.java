package io.loadstone.launcher.flags;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.junit.jupiter.api.Test;

class FlagsTest {

    @Test
    void mapsFlagsToTheKeysTheyNameOnly() {
        var p = Flags.parse("--models", "/srv/models", "--port=7861", "--listen", "--api-key", "s3cret", "--model",
                "stories260K.gguf");
        assertEquals(Map.of("models.dir", "/srv/models", "model", "stories260K.gguf"), p.config().get(Flags.CORE_PID));
        assertEquals(Map.of("port", 7861, "listen", true, "api.key", "s3cret"), p.config().get(Flags.SERVER_PID));
        assertFalse(p.shell());
        assertFalse(p.help());
        // Nothing given, nothing set: saved values of other keys stay as they are.
        assertTrue(Flags.parse().config().isEmpty());
        assertNull(Flags.parse("--port", "0").config().get(Flags.CORE_PID));
    }

    @Test
    void launcherFlagsSetNoConfiguration() {
        var p = Flags.parse("--shell", "--help");
        assertTrue(p.shell());
        assertTrue(p.help());
        assertTrue(p.config().isEmpty());
        assertTrue(Flags.parse("-h").help());
    }

    @Test
    void refusesUnknownFlagsAndBadValuesNamingTheFlag() {
        var e = assertThrows(IllegalArgumentException.class, () -> Flags.parse("--prot", "1"));
        assertEquals("unknown flag '--prot' (did you mean --port?).", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Flags.parse("--gpu-layers=4"));
        assertEquals("unknown flag '--gpu-layers=4'.", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Flags.parse("--port", "x"));
        assertEquals("--port needs a number from 0 to 65535, not 'x'.", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Flags.parse("--port", "70000"));
        assertTrue(e.getMessage().contains("70000"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Flags.parse("--models"));
        assertEquals("--models needs a value: --models DIR.", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Flags.parse("--models", "--listen"));
        assertTrue(e.getMessage().contains("needs a value"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Flags.parse("--listen=no"));
        assertTrue(e.getMessage().contains("takes no value"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Flags.parse("--model="));
        assertTrue(e.getMessage().startsWith("--model needs a value"), e.getMessage());
    }

    @Test
    void usageListsEveryFlagOnItsOwnLine() {
        String[] lines = Flags.usage().split("\n");
        assertTrue(lines[0].startsWith("Usage: "), lines[0]);
        assertEquals(Flags.ALL.size(), lines.length - 1);
        for (int i = 0; i < Flags.ALL.size(); i++) {
            Flag f = Flags.ALL.get(i);
            assertTrue(lines[i + 1].strip().startsWith(f.synopsis()), lines[i + 1]);
            assertTrue(lines[i + 1].endsWith(f.help()), lines[i + 1]);
        }
    }
}
