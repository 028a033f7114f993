package io.loadstone.api.loader;

/**
 * A model could not be loaded or run. The message says what is wrong and names the
 * file; {@link #fix()} says what the user can do about it; {@link #reason()} says, for
 * programs (the HTTP layer), whose mistake it is, without reading the message.
 */
public class ModelLoadException extends Exception {

    private static final long serialVersionUID = 1L;

    /** Whose mistake a failure is, so callers can answer it without parsing the message. */
    public enum Reason {
        /** The model's files are damaged or inconsistent ({@link #param()}: the key, tensor or file concerned). */
        INVALID_FILE,
        /** A load option or generation parameter has a value that cannot work ({@link #param()}: its name). */
        INVALID_OPTION,
        /** The files are sound but this loader or build does not support what they describe. */
        UNSUPPORTED,
        /** The model would need more memory than this machine or the configured budget allows. */
        TOO_LARGE,
        /** Anything else: a failure of the loader or the system, not of the request (the default). */
        FAILED
    }

    private final String fix;
    private final Reason reason;
    private final String param;

    public ModelLoadException(String message, String fix) {
        this(Reason.FAILED, null, message, fix, null);
    }

    public ModelLoadException(String message, String fix, Throwable cause) {
        this(Reason.FAILED, null, message, fix, cause);
    }

    /**
     * @param reason  whose mistake it is (null: {@link Reason#FAILED})
     * @param param   the option, key or file the failure is about, or null
     * @param message what is wrong, naming the file
     * @param fix     what the user can do (may be null)
     * @param cause   the underlying exception, or null
     * @since 1.2
     */
    public ModelLoadException(Reason reason, String param, String message, String fix, Throwable cause) {
        super(message, cause);
        this.fix = fix == null ? "" : fix;
        this.reason = reason == null ? Reason.FAILED : reason;
        this.param = param;
    }

    /** What the user can do, e.g. "Download the file again" (may be empty). */
    public String fix() {
        return fix;
    }

    /**
     * Whose mistake this is; {@link Reason#FAILED} when the thrower did not say.
     *
     * @since 1.2
     */
    public Reason reason() {
        return reason;
    }

    /**
     * The option, metadata key or file the failure is about, or null.
     *
     * @since 1.2
     */
    public String param() {
        return param;
    }

    /** Message and fix in one line for logs and status lines. */
    public String userMessage() {
        return fix.isEmpty() ? getMessage() : getMessage() + " " + fix;
    }
}
