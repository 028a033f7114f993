package io.loadstone.testsupport;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The real model files in {@code ../shared/models} (README and licences there), which every
 * module's pom passes as the system property {@code loadstone.shared.models}. A test that needs
 * them is skipped, saying why, where they are absent.
 */
public final class SharedModels {

    private SharedModels() {
    }

    /** The shared models folder. */
    public static Path root() {
        Path dir = Path.of(System.getProperty("loadstone.shared.models", "../../../shared/models"));
        assumeTrue(Files.isDirectory(dir), "shared models folder " + dir.toAbsolutePath() + " is absent");
        return dir;
    }

    /** A file or folder of the shared models, e.g. {@code stories260K-hf}. */
    public static Path model(String name) {
        Path p = root().resolve(name);
        assumeTrue(Files.exists(p), "shared model " + p.toAbsolutePath() + " is absent");
        return p;
    }

    /** The trained 260K-parameter Llama as GGUF. */
    public static Path stories() {
        return model("stories260K.gguf");
    }

    /** A copy of a model folder's files (copies, so a test may damage or remove them). */
    public static Path copy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (var s = Files.list(from)) {
            for (Path p : s.toList()) {
                Files.copy(p, to.resolve(p.getFileName()));
            }
        }
        return to;
    }
}
