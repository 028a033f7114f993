package io.loadstone.loader.llamacpphf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import io.loadstone.tokenizer.TokenizerFactory;
import io.loadstone.tokenizer.hf.JniTokenizerLibrary;
import io.loadstone.testsupport.Logits;
import io.loadstone.testsupport.NativeLibraries;
import io.loadstone.testsupport.SharedModels;

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
        return NativeLibraries.llamaCpp();
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

    static Path models() {
        return SharedModels.root();
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
        return Logits.maxAbsDiff(a, b);
    }
}
