package io.loadstone.core.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.junit.jupiter.api.Test;

class LaunchArgumentsTest {

    @Test
    void mapsFlagsToConfiguration() {
        var m = LaunchArguments.parse(new String[] { "--models", "/srv/models", "--port=7861", "--listen",
                "--api-key", "s3cret", "--model", "stories260K.gguf" });
        assertEquals(Map.of("models.dir", "/srv/models", "model", "stories260K.gguf"), m.get(LaunchArguments.CORE_PID));
        assertEquals(Map.of("port", 7861, "listen", true, "api.key", "s3cret"), m.get(LaunchArguments.SERVER_PID));
    }

    @Test
    void refusesUnknownFlagsAndBadValues() {
        var e = assertThrows(IllegalArgumentException.class, () -> LaunchArguments.parse(new String[] { "--prot",
                "1" }));
        assertTrue(e.getMessage().contains("--prot") && e.getMessage().contains("--port N"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LaunchArguments.parse(new String[] { "--port", "x" }));
        assertTrue(e.getMessage().contains("0 to 65535"));
        e = assertThrows(IllegalArgumentException.class, () -> LaunchArguments.parse(new String[] { "--port",
                "70000" }));
        assertTrue(e.getMessage().contains("70000"));
        e = assertThrows(IllegalArgumentException.class, () -> LaunchArguments.parse(new String[] { "--models" }));
        assertTrue(e.getMessage().contains("needs a value"));
    }
}
