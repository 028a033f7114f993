package io.loadstone.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The exported runnable jars as a user runs them: {@code java -jar} in an empty home
 * folder with the command-line flags, driven through the Gogo shell. Proves the bundles
 * resolve and start outside the build, the flags reach the runtime, the starter model is
 * placed, the native fragment loads and the model tells its story.
 */
class DistributionIT {

    /** The continuation only: log lines may land between the echoed prompt and the generated text. */
    static final String STORY = ", there was a little girl named Lily. She loved to play outside in the park.";

    @TempDir
    Path home;

    @ParameterizedTest
    @ValueSource(strings = { "loadstone-llamacpp.jar", "loadstone-full.jar" })
    void runnableJarLoadsTheStarterModelAndGenerates(String jarName) throws Exception {
        Path jar = Path.of(System.getProperty("loadstone.distribution.dir")).resolve(jarName);
        assertTrue(Files.isRegularFile(jar), jar + " was exported");
        System.out.printf(Locale.ROOT, "%s: %.1f MB%n", jarName, Files.size(jar) / 1048576.0);
        Files.createDirectories(home.resolve("plugins"));

        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector",
                "--sun-misc-unsafe-memory-access=allow", "-jar", jar.toString(), "--models", "my-models", "--port", "0", "--model",
                "stories260K.gguf"));
        // The shell's output (stdout) and the log (stderr) stay apart, as on a terminal: log
        // lines from starting services must not split the generated text.
        Path log = home.resolve("out.log");
        Path err = home.resolve("err.log");
        Process p = new ProcessBuilder(cmd).directory(home.toFile()).redirectOutput(log.toFile())
                .redirectError(err.toFile()).start();
        try (OutputStream shell = p.getOutputStream()) {
            waitFor(err, "LOADED stories260K.gguf", 60);
            shell.write("loadstone:generate -n 30 Once upon a time\n".getBytes(StandardCharsets.UTF_8));
            shell.flush();
            waitFor(log, "tokens/s", 60);
            shell.write("loadstone:models\nstop 0\n".getBytes(StandardCharsets.UTF_8));
            shell.flush();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the framework stops on 'stop 0'");
        } finally {
            p.destroyForcibly();
        }
        String out = Files.readString(log) + "\n" + Files.readString(err);
        assertTrue(Files.isRegularFile(home.resolve("my-models/stories260K.gguf")), "--models was honoured: " + out);
        assertTrue(Files.readString(log).contains(STORY), out);
        assertTrue(out.contains("llama.cpp (90): GGUF v3"), "the model list shows who loads it and why: " + out);
        // The bnd launcher exits with 117 (LauncherConstants.STOPPED) when the framework is stopped normally.
        assertEquals(117, p.exitValue(), out);
    }

    private static void waitFor(Path log, String text, int seconds) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < end) {
            if (Files.exists(log) && Files.readString(log).contains(text)) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no '" + text + "' within " + seconds + " s; output so far:\n"
                + (Files.exists(log) ? Files.readString(log) : ""));
    }
}
