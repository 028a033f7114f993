package io.loadstone.ui.web;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class PluginsTest {

    @Test
    void uploadNamesCannotEscapeThePluginsFolder() {
        assertEquals("loader-1.0.jar", Plugins.safeName("loader-1.0.jar", "x", "1"));
        assertEquals("evil.jar", Plugins.safeName("../../etc/evil.jar", "x", "1"));
        assertEquals("evil.jar", Plugins.safeName("C:\\temp\\evil.jar", "x", "1"));
        assertEquals("a_b_.jar", Plugins.safeName("a b$.jar", "x", "1"));
        assertEquals("io.acme.loader-2.0.jar", Plugins.safeName(".hidden.jar", "io.acme.loader", "2.0"));
        assertEquals("io.acme.loader-2.0.jar", Plugins.safeName("notes.txt", "io.acme.loader", "2.0"));
        assertEquals("io.acme.loader.jar", Plugins.safeName(null, "io.acme.loader", null));
    }
}
