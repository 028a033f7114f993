package io.loadstone.loader.transformers;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.loadstone.tokenizer.TokenizerFactory;
import io.loadstone.tokenizer.hf.JniTokenizerLibrary;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The parts the DS component gets in OSGi, built directly: the tokenizers library loaded from the
 * fragment jar this reactor built (as the tokenizer module's own tests do), and the shared models.
 */
final class TestModels {

    private static TokenizerFactory factory;

    private TestModels() {
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

    static TransformersLoader loader() {
        return new TransformersLoader(tokenizers());
    }

    /** A folder of /work/shared/models; skips the test when the shared models are absent. */
    static Path model(String name) {
        String root = System.getProperty("loadstone.shared.models");
        Path dir = root == null ? null : Path.of(root).resolve(name);
        assumeTrue(dir != null && Files.isDirectory(dir), "shared model folder " + dir + " is absent; skipping");
        return dir;
    }

    /** stories260K-lora-r8/reference.json: transformers' own outputs for the base model. */
    static JsonObject reference() {
        Path file = model("stories260K-lora-r8").resolve("reference.json");
        try {
            return JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static float[] floats(JsonArray a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsFloat();
        }
        return out;
    }

    static int[] ints(JsonArray a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsInt();
        }
        return out;
    }

    /** A copy of a model folder (files copied, so tests may damage or remove them). */
    static Path copy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (var s = Files.list(from)) {
            for (Path p : s.toList()) {
                Files.copy(p, to.resolve(p.getFileName()));
            }
        }
        return to;
    }
}
