package io.loadstone.testsupport;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The native libraries plain-JUnit tests load straight out of the fragment jars this reactor
 * built; the poms unpack them and pass their paths as system properties.
 */
public final class NativeLibraries {

    private NativeLibraries() {
    }

    /** llama.cpp's {@code libjllama} ({@code loadstone.llamacpp.library}). */
    public static Path llamaCpp() {
        String p = System.getProperty("loadstone.llamacpp.library");
        assumeTrue(p != null && Files.isRegularFile(Path.of(p)),
                "native library not unpacked (system property loadstone.llamacpp.library=" + p + ")");
        return Path.of(p);
    }

    /** The tokenizers library files, dependencies first ({@code loadstone.tokenizer.natives} + {@code .native.files}). */
    public static List<Path> tokenizers() {
        String dir = System.getProperty("loadstone.tokenizer.natives");
        String files = System.getProperty("loadstone.tokenizer.native.files");
        if (dir == null || files == null) {
            throw new IllegalStateException("Run the tests through Maven: the pom passes the native library paths");
        }
        return Arrays.stream(files.split(",")).map(f -> Path.of(dir).resolve(f.trim())).toList();
    }
}
