package io.loadstone.download.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.FakeHub;
import io.loadstone.download.TestSettings;

/** Links planted in the staging area are never written through. */
class SymlinkSafetyTest {

    @TempDir
    Path root;

    FakeHub hub;
    Downloader downloader;
    Path outside;
    FakeHub.FakeFile weights;

    @BeforeEach
    void setUp() throws IOException {
        hub = new FakeHub();
        hub.text("acme/tiny", "config.json", "{}");
        hub.text("acme/tiny", "original/params.json", "{\"dim\":1}");
        weights = hub.lfs("acme/tiny", "model.safetensors", 40_000);
        downloader = new Downloader(TestSettings.of(hub.base(), root), TestSettings.noEnv());
        outside = root.resolve("outside");
        Files.createDirectories(outside);
        Files.writeString(outside.resolve("precious.txt"), "keep me");
    }

    @AfterEach
    void tearDown() {
        downloader.close();
        hub.close();
    }

    Path staging() {
        return root.resolve("models/.downloading/acme_tiny");
    }

    Path link(Path link, Path target) throws IOException {
        Files.createDirectories(link.getParent());
        try {
            return Files.createSymbolicLink(link, target);
        } catch (UnsupportedOperationException | IOException e) {
            assumeTrue(false, "symbolic links are not available here: " + e);
            return link;
        }
    }

    @Test
    void linkedPartialFileAndLinkedSubfolderAreReplacedNotFollowed() throws Exception {
        link(staging().resolve("model.safetensors.part"), outside.resolve("precious.txt"));
        link(staging().resolve("original"), outside);
        Path target = downloader.start(downloader.plan(downloader.parse("acme/tiny"), Optional.empty()), null).await();
        assertEquals("keep me", Files.readString(outside.resolve("precious.txt")));
        assertFalse(Files.exists(outside.resolve("params.json")), "nothing written through the linked folder");
        assertArrayEquals(weights.content(), Files.readAllBytes(target.resolve("model.safetensors")));
        assertFalse(Files.isSymbolicLink(target.resolve("original")));
        assertEquals("{\"dim\":1}", Files.readString(target.resolve("original/params.json")));
    }

    @Test
    void linkedStagingRootIsRefused() throws Exception {
        Files.createDirectories(root.resolve("models"));
        link(root.resolve("models/.downloading"), outside);
        DownloadException e = assertThrows(DownloadException.class,
                () -> downloader.start(downloader.plan(downloader.parse("acme/tiny"), Optional.empty()), null));
        assertEquals(Reason.UNSAFE_PATH, e.reason());
        assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
        try (var s = Files.list(outside)) {
            assertEquals(1, s.count(), "only the file that was there");
        }
    }

    @Test
    void linkedModelsFolderItselfIsFine() throws Exception {
        Path real = root.resolve("big-disk/models");
        Files.createDirectories(real);
        Path models = link(root.resolve("linked-models"), real);
        Downloader d = new Downloader(TestSettings.of(hub.base(), root).withDirs(models, root.resolve("loras")),
                TestSettings.noEnv());
        d.start(d.plan(d.parse("acme/tiny"), Optional.empty()), null).await();
        assertTrue(Files.isRegularFile(real.resolve("acme_tiny/model.safetensors")));
    }
}
