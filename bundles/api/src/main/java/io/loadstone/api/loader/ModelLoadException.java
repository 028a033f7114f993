package io.loadstone.api.loader;

/**
 * A model could not be loaded or run. The message says what is wrong and names the
 * file; {@link #fix()} says what the user can do about it.
 */
public class ModelLoadException extends Exception {

    private static final long serialVersionUID = 1L;

    private final String fix;

    public ModelLoadException(String message, String fix) {
        super(message);
        this.fix = fix == null ? "" : fix;
    }

    public ModelLoadException(String message, String fix, Throwable cause) {
        super(message, cause);
        this.fix = fix == null ? "" : fix;
    }

    /** What the user can do, e.g. "Download the file again" (may be empty). */
    public String fix() {
        return fix;
    }

    /** Message and fix in one line for logs and status lines. */
    public String userMessage() {
        return fix.isEmpty() ? getMessage() : getMessage() + " " + fix;
    }
}
