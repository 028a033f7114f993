package io.loadstone.api.loader;

import java.util.Objects;

/**
 * How well a loader fits a model.
 *
 * @param score  0 = cannot load; 1-29 = guessed from names only; 30-69 = files fit but
 *               another loader is the usual choice; 70-100 = the files say this loader
 * @param reason short text shown to users, e.g. "GGUF v3, architecture llama"
 */
public record Detection(int score, String reason) {

    public static final int NAME_HINT = 20;
    public static final int COMPATIBLE = 50;
    public static final int PREFERRED = 90;

    public Detection {
        if (score < 0 || score > 100) {
            throw new IllegalArgumentException("score must be 0..100: " + score);
        }
        Objects.requireNonNull(reason, "reason");
    }

    public static Detection no(String reason) {
        return new Detection(0, reason);
    }

    public boolean accepted() {
        return score > 0;
    }
}
