package io.loadstone.ui.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.ui.http.ApiException;

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

    @Test
    void aSymbolicNameWithPathTricksGivesAPlainFileName() {
        assertEquals("victim-1.0.jar", Plugins.safeName(null, "../../victim", "1.0"));
        assertEquals("victim-1.0.jar", Plugins.fallbackName("..\\..\\victim", "1.0"));
        assertEquals("-1.jar", Plugins.fallbackName("..", "1"));
        assertEquals("plugin.jar", Plugins.fallbackName("..", null));
        assertEquals("a_b.jar", Plugins.fallbackName("a\u0000b", null));
    }

    @Test
    void anUploadNeverReplacesAnotherFile(@TempDir Path dir) throws Exception {
        Path plugins = Files.createDirectories(dir.resolve("plugins"));
        assertEquals(plugins.resolve("mine.jar"), Plugins.newFile(plugins, "mine.jar", "io.acme.x", "1.0"));
        assertEquals(plugins.resolve("victim-1.0.jar"), Plugins.newFile(plugins, null, "../../victim", "1.0"));
        Files.writeString(plugins.resolve("other.jar"), "someone else's plugin");
        assertEquals(plugins.resolve("io.acme.x-1.0.jar"), Plugins.newFile(plugins, "other.jar", "io.acme.x", "1.0"));
        Files.writeString(plugins.resolve("io.acme.x-1.0.jar"), "also taken");
        ApiException e = assertThrows(ApiException.class, () -> Plugins.newFile(plugins, "other.jar", "io.acme.x",
                "1.0"));
        assertEquals(409, e.status());
        assertEquals("someone else's plugin", Files.readString(plugins.resolve("other.jar")));
    }
}
