package io.loadstone.loader.llamacpphf;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import io.loadstone.tokenizer.TokenizerFactory;
import io.loadstone.tokenizer.hf.JniTokenizerLibrary;

/**
 * What the DS component gets in OSGi, built directly: llama.cpp and the tokenizers library loaded
 * from the fragment jars this reactor built, and the shared model files.
 */
final class TestFiles {

    /** The tokenizer files text-generation-webui users copy next to a GGUF file. */
    static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json");

    private static TokenizerFactory factory;

    private TestFiles() {
    }

    static Path library() {
        String p = System.getProperty("loadstone.llamacpp.library");
        assumeTrue(p != null && Files.isRegularFile(Path.of(p)),
                "native library not unpacked (system property loadstone.llamacpp.library=" + p + ")");
        return Path.of(p);
    }

    /** One library per test JVM: a JNI library cannot be loaded twice into one class loader. */
    static synchronized TokenizerFactory tokenizers() {
        if (factory == null) {
            String dir = System.getProperty("loadstone.tokenizer.natives");
            String files = System.getProperty("loadstone.tokenizer.native.files");
            if (dir == null || files == null) {
                throw new IllegalStateException("Run the tests through Maven: the pom passes the native library paths");
            }
            List<Path> libs = Arrays.stream(files.split(",")).map(f -> Path.of(dir).resolve(f.trim())).toList();
            try {
                factory = JniTokenizerLibrary.load(libs, "djl-tokenizers-0.36.0");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return factory;
    }

    static Path models() {
        Path dir = Path.of(System.getProperty("loadstone.shared.models", "../../../shared/models"));
        assumeTrue(Files.isDirectory(dir), "shared models folder " + dir.toAbsolutePath() + " is absent");
        return dir;
    }

    static Path stories() {
        return models().resolve("stories260K.gguf");
    }

    /** Copies stories260K's tokenizer files into {@code dir}. */
    static Path tokenizerInto(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (String f : TOKENIZER_FILES) {
            Files.copy(models().resolve("stories260K-hf").resolve(f), dir.resolve(f));
        }
        return dir;
    }

    /** A llamacpp_HF model folder: stories260K.gguf with its Hugging Face tokenizer files next to it. */
    static Path hfFolder(Path dir) throws IOException {
        tokenizerInto(dir);
        Files.copy(stories(), dir.resolve("stories260K.gguf"));
        return dir;
    }

    static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }
}
