package io.loadstone.download.shell;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.download.FakeHub;
import io.loadstone.download.TestSettings;
import io.loadstone.download.service.Downloader;

/** The Gogo command, called the way Gogo calls it: by name, with string arguments. */
class DownloadCommandTest {

    @TempDir
    Path root;

    FakeHub hub;
    Downloader downloader;
    DownloadCommand command;

    @BeforeEach
    void setUp() throws IOException {
        hub = new FakeHub();
        downloader = new Downloader(TestSettings.of(hub.base(), root), TestSettings.noEnv());
        command = new DownloadCommand(downloader);
    }

    @AfterEach
    void tearDown() {
        downloader.close();
        hub.close();
    }

    @Test
    void downloadsAndReportsWhereTheModelWent() throws Exception {
        hub.text("acme/tiny", "config.json", "{}");
        FakeHub.FakeFile w = hub.lfs("acme/tiny", "model.safetensors", 20_000);
        Object result = DownloadCommand.class.getMethod("download", String[].class).invoke(command,
                (Object) new String[] {"acme/tiny"});
        Path target = root.resolve("models/acme_tiny").toAbsolutePath();
        assertEquals("Downloaded acme/tiny into " + target, result);
        assertArrayEquals(w.content(), Files.readAllBytes(target.resolve("model.safetensors")));
        assertEquals("Already downloaded: " + target, command.download("acme/tiny"));
    }

    @Test
    void ggufChoiceListIsTheAnswer() throws Exception {
        hub.lfs("acme/q", "q.Q4_0.gguf", 1000);
        hub.lfs("acme/q", "q.Q8_0.gguf", 2000);
        String answer = command.download("acme/q");
        assertTrue(answer.contains("q.Q4_0.gguf  (1.00 kB)") && answer.contains("--file q.Q4_0.gguf"), answer);
        assertEquals("Downloaded acme/q into " + root.resolve("models/q.Q8_0.gguf").toAbsolutePath(),
                command.download("acme/q", "--file", "q.Q8_0.gguf"));
    }

    @Test
    void errorsAndShellOnlyOptionsAreAnswers() throws Exception {
        assertTrue(command.download("acme/none").startsWith("error: Repository acme/none not found"));
        assertTrue(command.download("acme/q", "--models", "/x").contains("come from the configuration"));
        assertTrue(command.download().startsWith("error: No model given"));
        hub.text("acme/list", "a/b.json", "{}");
        assertTrue(command.download("acme/list", "--list").endsWith("a/b.json"));
    }
}
