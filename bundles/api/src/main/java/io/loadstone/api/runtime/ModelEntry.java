package io.loadstone.api.runtime;

import java.nio.file.Path;
import java.util.List;

import io.loadstone.api.loader.Detection;

/**
 * A model in the models folder.
 *
 * @param name       what users pick and settings are keyed by
 * @param path       its file or folder
 * @param sizeBytes  total size of its files
 * @param candidates installed loaders that accept it, best first
 * @param hint       when no installed loader accepts it: which loader bundle is missing;
 *                   otherwise empty
 */
public record ModelEntry(String name, Path path, long sizeBytes, List<Candidate> candidates, String hint) {

    public ModelEntry {
        candidates = List.copyOf(candidates);
        hint = hint == null ? "" : hint;
    }

    /** A loader that accepts the model, with how and why. */
    public record Candidate(String loaderId, Detection detection) {
    }

    /** The best loader's id, or null when none fits. */
    public String bestLoader() {
        return candidates.isEmpty() ? null : candidates.get(0).loaderId();
    }
}
