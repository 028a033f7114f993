package io.loadstone.download;

import java.util.List;
import java.util.Objects;

/**
 * One GGUF model a repository offers: a single file, or the parts of a split model
 * ({@code name-00001-of-00003.gguf} …).
 *
 * @param file  the name to pass back as the chosen file: the file itself or its first part
 * @param size  total size in bytes (all parts)
 * @param parts every file of this choice, in order
 */
public record GgufChoice(String file, long size, List<RemoteFile> parts) {

    public GgufChoice {
        Objects.requireNonNull(file, "file");
        parts = List.copyOf(parts);
    }

    /** True when this model is split into several files. */
    public boolean isSplit() {
        return parts.size() > 1;
    }
}
