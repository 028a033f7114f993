package io.loadstone.api.loader;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A model as found in the models folder: either a single file (a {@code .gguf}) or a
 * folder (Hugging Face layout, or a folder holding GGUF files).
 *
 * @param name the name users see and settings are keyed by: the folder or file name
 * @param path the file or folder
 */
public record ModelSource(String name, Path path) {

    public ModelSource {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(path, "path");
    }

    public static ModelSource of(Path path) {
        return new ModelSource(path.getFileName().toString(), path);
    }

    public boolean isFile() {
        return Files.isRegularFile(path);
    }

    public boolean isDirectory() {
        return Files.isDirectory(path);
    }
}
