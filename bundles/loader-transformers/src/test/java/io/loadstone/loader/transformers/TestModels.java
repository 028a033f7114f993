package io.loadstone.loader.transformers;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.loadstone.tokenizer.TokenizerFactory;
import io.loadstone.tokenizer.hf.JniTokenizerLibrary;
import io.loadstone.testsupport.NativeLibraries;
import io.loadstone.testsupport.References;
import io.loadstone.testsupport.SharedModels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

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
            try {
                factory = JniTokenizerLibrary.load(NativeLibraries.tokenizers(), "djl-tokenizers-0.36.0");
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
        return SharedModels.model(name);
    }

    /** stories260K-lora-r8/reference.json: transformers' own outputs for the base model. */
    static JsonObject reference() {
        return References.stories();
    }

    static float[] floats(JsonArray a) {
        return References.floats(a);
    }

    static int[] ints(JsonArray a) {
        return References.ints(a);
    }

    /** A copy of a model folder (files copied, so tests may damage or remove them). */
    static Path copy(Path from, Path to) throws IOException {
        return SharedModels.copy(from, to);
    }
}
