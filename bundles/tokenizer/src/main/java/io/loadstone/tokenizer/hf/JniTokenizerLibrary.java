package io.loadstone.tokenizer.hf;

import java.io.IOException;
import java.lang.ref.Cleaner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Set;

import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import io.loadstone.tokenizer.HfTokenizer;
import io.loadstone.tokenizer.TokenizerException;
import io.loadstone.tokenizer.TokenizerFactory;
import io.loadstone.tokenizer.TokenizerOptions;

/**
 * The tokenizers JNI library, loaded from files the caller chose (in OSGi: a private copy of
 * the attached fragment's library; in tests: the fragment's files), and the
 * {@link TokenizerFactory} on top of it.
 *
 * <p>DJL's own loader ({@code LibUtils}) is deliberately not used: it would extract the library
 * to {@code ~/.djl.ai} and may download CUDA builds. JNI binds a library to the class loader of
 * the class that calls {@link System#load}; this class lives in the same bundle as the embedded
 * {@link TokenizersLibrary}, so the natives bind to it.
 */
public final class JniTokenizerLibrary implements TokenizerFactory {

    /**
     * Native builds whose JNI entry points match the embedded {@link TokenizersLibrary} for the six
     * calls made here (createTokenizerFromString, deleteTokenizer, encode, getTokenIds,
     * deleteEncoding, decode). 0.28.0 is the last DJL release with an Intel macOS library.
     */
    public static final Set<String> SUPPORTED_BUILDS = Set.of("djl-tokenizers-0.36.0", "djl-tokenizers-0.28.0");

    private final String build;
    private final Cleaner cleaner = Cleaner.create();

    private JniTokenizerLibrary(String build) {
        this.build = build;
    }

    /**
     * Loads {@code files} in order (dependencies first) unless this class loader already has the
     * natives linked, and returns the factory.
     *
     * @throws IOException when the build is not supported or a file cannot be loaded
     */
    @SuppressWarnings("restricted") // JNI: the JVM runs with --enable-native-access (see the root pom's flags)
    public static JniTokenizerLibrary load(List<Path> files, String build) throws IOException {
        Objects.requireNonNull(files, "files");
        if (!SUPPORTED_BUILDS.contains(build)) {
            throw new IOException("Native tokenizers build " + build + " is not supported by this bundle (it supports "
                    + SUPPORTED_BUILDS + ")");
        }
        if (!linked()) {
            for (Path file : files) {
                if (!Files.isRegularFile(file)) {
                    throw new IOException("Native tokenizers library file " + file + " does not exist");
                }
                try {
                    System.load(file.toAbsolutePath().toString());
                } catch (UnsatisfiedLinkError e) {
                    throw new IOException("Cannot load the native tokenizers library " + file + ": " + e.getMessage()
                            + " (is it built for this OS and CPU?)", e);
                }
            }
            if (!linked()) {
                throw new IOException("The native library " + files + " loaded but does not provide the tokenizers "
                        + "JNI functions of " + build);
            }
        }
        return new JniTokenizerLibrary(build);
    }

    /**
     * Whether the natives are bound to this class loader: asks the library to parse an empty
     * object, which it rejects with an exception when bound, while an unbound native method
     * throws UnsatisfiedLinkError (and stays unbound, so a later load still binds it).
     */
    static boolean linked() {
        try {
            long h = TokenizersLibrary.LIB.createTokenizerFromString("{}");
            if (h != 0) {
                TokenizersLibrary.LIB.deleteTokenizer(h);
            }
            return true;
        } catch (UnsatisfiedLinkError e) {
            return false;
        } catch (RuntimeException expected) {
            return true;
        }
    }

    @Override
    public HfTokenizer open(Path folder, TokenizerOptions options) throws TokenizerException {
        Objects.requireNonNull(folder, "folder");
        Objects.requireNonNull(options, "options");
        TokenizerDefinition def = TokenizerFiles.read(folder, options);
        long handle;
        try {
            handle = TokenizersLibrary.LIB.createTokenizerFromString(def.json());
        } catch (RuntimeException e) {
            throw new TokenizerException(def.jsonFile(), def.jsonFile() + " is not a tokenizer the tokenizers library "
                    + "accepts (" + e.getMessage() + "): download the tokenizer files again, or place a valid "
                    + "tokenizer.json beside the model", e);
        }
        if (handle == 0) {
            throw new TokenizerException(def.jsonFile(), "The tokenizers library returned no tokenizer for "
                    + def.jsonFile());
        }
        return new JniTokenizer(def, handle, options.configBosEos(), cleaner);
    }

    @Override
    public String nativeBuild() {
        return build;
    }
}
