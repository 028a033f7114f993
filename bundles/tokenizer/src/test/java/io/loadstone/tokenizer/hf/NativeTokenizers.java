package io.loadstone.tokenizer.hf;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/** The library under test, loaded from the fragment jar this reactor built, and the shared models. */
final class NativeTokenizers {

    private NativeTokenizers() {
    }

    /** The fragment's library files, as the pom unpacked them (in load order). */
    static List<Path> libraryFiles() {
        String dir = System.getProperty("loadstone.tokenizer.natives");
        String files = System.getProperty("loadstone.tokenizer.native.files");
        if (dir == null || files == null) {
            throw new IllegalStateException("Run the tests through Maven: the pom passes loadstone.tokenizer.natives "
                    + "and loadstone.tokenizer.native.files");
        }
        return Arrays.stream(files.split(",")).map(f -> Path.of(dir).resolve(f.trim())).toList();
    }

    static JniTokenizerLibrary library() {
        try {
            return JniTokenizerLibrary.load(libraryFiles(), "djl-tokenizers-0.36.0");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A file of /work/shared/models; skips the test when it is not there. */
    static Path sharedFile(String name) {
        String root = System.getProperty("loadstone.shared.models");
        Path file = root == null ? null : Path.of(root).resolve(name);
        assumeTrue(file != null && Files.isRegularFile(file), "shared model file " + file + " is absent; skipping");
        return file;
    }

    /** A folder of /work/shared/models; skips the test when the shared models are not there. */
    static Path model(String name) {
        String root = System.getProperty("loadstone.shared.models");
        Path dir = root == null ? null : Path.of(root).resolve(name);
        assumeTrue(dir != null && Files.isDirectory(dir), "shared model folder " + dir + " is absent; skipping");
        return dir;
    }
}
