package io.loadstone.download.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.download.FakeHub;
import io.loadstone.download.TestSettings;

/** {@code loadstone download …} end to end against the fake Hub. */
class DownloadCommandLineTest {

    @TempDir
    Path root;

    FakeHub hub;
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @BeforeEach
    void setUp() throws IOException {
        hub = new FakeHub();
        hub.text("acme/tiny-GGUF", "README.md", "quants");
        hub.lfs("acme/tiny-GGUF", "tiny.Q8_0.gguf", 90_000);
        hub.lfs("acme/tiny-GGUF", "tiny.Q4_K_M.gguf", 50_000);
    }

    @AfterEach
    void tearDown() {
        hub.close();
    }

    int run(boolean terminal, Map<String, String> env, String... args) {
        DownloadCommandLine cli = new DownloadCommandLine(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), TestSettings.env(env), terminal,
                TestSettings.of(hub.base(), root));
        return cli.run(job -> {
        }, args);
    }

    int run(String... args) {
        return run(false, Map.of(), args);
    }

    String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    /**
     * No network: the host does not resolve ({@code .invalid} never does, RFC 2606; nothing leaves the machine but
     * the resolver's answer). Retries that each wait a minute would run into the timeout: an unknown host is not
     * retried, and the message says what it probably is.
     */
    @Test
    void anUnresolvableHubFailsAtOnceSayingOffline() {
        DownloadCommandLine cli = new DownloadCommandLine(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8),
                TestSettings.env(Map.of("HF_ENDPOINT", "http://huggingface.invalid")), false,
                TestSettings.of(hub.base(), root).withRetries(3, Duration.ofSeconds(60), Duration.ofSeconds(60),
                        Duration.ofSeconds(5)));
        int rc = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> cli.run(job -> {
        }, "download", "acme/tiny-GGUF", "--file", "tiny.Q8_0.gguf", "--models", root.resolve("m").toString()));
        assertNotEquals(0, rc, err());
        assertTrue(err().contains("cannot resolve huggingface.invalid \u2014 offline? (HF_ENDPOINT for a mirror)"),
                err());
        assertTrue(hub.requests().isEmpty(), "HF_ENDPOINT replaced the configured Hub");
    }

    /** The same when the file list comes but a file's storage host (a CDN the Hub redirects to) does not resolve. */
    @Test
    void anUnresolvableStorageHostFailsAtOnceSayingOffline() {
        hub.always("tiny.Q8_0.gguf", new FakeHub.Status(302, Map.of("Location", "http://cdn-lfs.invalid/tiny")));
        DownloadCommandLine cli = new DownloadCommandLine(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), TestSettings.noEnv(), false,
                TestSettings.of(hub.base(), root).withRetries(3, Duration.ofSeconds(60), Duration.ofSeconds(60),
                        Duration.ofSeconds(5)));
        int rc = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> cli.run(job -> {
        }, "download", "acme/tiny-GGUF", "--file", "tiny.Q8_0.gguf", "--models", root.resolve("m").toString()));
        assertNotEquals(0, rc, err());
        assertTrue(err().contains("cannot resolve cdn-lfs.invalid \u2014 offline? (HF_ENDPOINT for a mirror)"), err());
    }

    @Test
    void ggufRepoWithoutFileListsTheChoicesAndExitsWith2() {
        assertEquals(DownloadCommandLine.USAGE, run("download", "acme/tiny-GGUF", "--models",
                root.resolve("m").toString()));
        assertEquals("", out());
        assertTrue(err().contains("tiny.Q4_K_M.gguf  (50.0 kB)") && err().contains("tiny.Q8_0.gguf  (90.0 kB)"), err());
        assertTrue(err().contains("--file tiny.Q4_K_M.gguf"), err());
        assertFalse(Files.exists(root.resolve("m/tiny.Q4_K_M.gguf")));
    }

    @Test
    void withFileItDownloadsShowsProgressAndPrintsThePath() throws IOException {
        Path models = root.resolve("m");
        assertEquals(DownloadCommandLine.OK, run(true, Map.of(), "download", "acme/tiny-GGUF", "--file",
                "tiny.Q4_K_M.gguf", "--models", models.toString()), err());
        Path target = models.resolve("tiny.Q4_K_M.gguf").toAbsolutePath();
        assertEquals(target + System.lineSeparator(), out());
        assertArrayEquals(FakeHub.randomBytes("tiny.Q4_K_M.gguf".hashCode(), 50_000), Files.readAllBytes(target));
        assertTrue(err().contains("\r100.0%  50.0 kB of 50.0 kB"), err());
        assertTrue(err().contains("Done: 50.0 kB in"), err());
        assertEquals(DownloadCommandLine.OK, run(true, Map.of(), "acme/tiny-GGUF", "--file=tiny.Q4_K_M.gguf",
                "--models=" + models));
        assertTrue(err().contains("Already downloaded"), err());
    }

    @Test
    void listPrintsSizesHashesAndPaths() {
        assertEquals(DownloadCommandLine.OK, run("acme/tiny-GGUF", "--list"));
        String[] lines = out().split("\\R");
        assertEquals(3, lines.length, out());
        assertTrue(out().contains("       50000  " + FakeHub.sha256(FakeHub.randomBytes("tiny.Q4_K_M.gguf".hashCode(),
                50_000)) + "  tiny.Q4_K_M.gguf"), out());
        assertTrue(out().contains("-" + " ".repeat(63) + "  README.md"), out());
    }

    @Test
    void errorsAreOneClearLineWithTheRightStatus() {
        assertEquals(DownloadCommandLine.FAILED, run("acme/missing"));
        assertTrue(err().startsWith("error: Repository acme/missing not found"), err());
        assertEquals(1, err().strip().lines().count(), err());
        err.reset();
        assertEquals(DownloadCommandLine.USAGE, run("not a model"));
        assertTrue(err().startsWith("error: 'not a model' is not a Hugging Face model id"), err());
        err.reset();
        assertEquals(DownloadCommandLine.USAGE, run("acme/x", "--bogus"));
        assertTrue(err().startsWith("error: Unknown option '--bogus'"), err());
        assertTrue(err().contains("Usage: loadstone download"), err());
        err.reset();
        assertEquals(DownloadCommandLine.USAGE, run("--parallel", "0", "acme/x"));
        assertTrue(err().contains("--parallel needs a number from 1 to 64"), err());
        err.reset();
        assertEquals(DownloadCommandLine.USAGE, run("acme/x", "--endpoint", "ftp://nope"));
        assertTrue(err().contains("must be an http or https URL"), err());
    }

    @Test
    void gatedRepoMessageNamesTheTokenVariable() {
        hub.requireToken("hf_x");
        assertEquals(DownloadCommandLine.FAILED, run("acme/tiny-GGUF"));
        assertTrue(err().contains("set HF_TOKEN and accept the licence on " + hub.base() + "/acme/tiny-GGUF"), err());
        err.reset();
        assertEquals(DownloadCommandLine.OK, run(false, Map.of("HF_TOKEN", "hf_x"), "acme/tiny-GGUF", "--list"));
    }

    @Test
    void argumentsParse() throws Arguments.UsageException {
        Arguments a = Arguments.parse("download", "acme/x:dev", "-f", "a.gguf", "--models", "/m", "--loras=/l",
                "--parallel", "8", "-v");
        assertEquals("acme/x:dev", a.input());
        assertEquals(Optional.of("a.gguf"), a.file());
        assertEquals(Optional.of(Path.of("/m")), a.modelsDir());
        assertEquals(Optional.of(Path.of("/l")), a.lorasDir());
        assertEquals(Optional.of(8), a.parallel());
        assertTrue(a.verbose());
        assertTrue(Arguments.parse("-h").help());
        assertThrows(Arguments.UsageException.class, () -> Arguments.parse());
        assertThrows(Arguments.UsageException.class, () -> Arguments.parse("a/b", "c/d"));
        assertThrows(Arguments.UsageException.class, () -> Arguments.parse("a/b", "--file"));
    }
}
