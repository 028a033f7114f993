package io.loadstone.ui.http;

import io.loadstone.api.loader.ModelLoadException;

/**
 * A request that cannot be served, with the HTTP status and the OpenAI-style error fields
 * the client gets. Thrown inside servlets and turned into a response in one place, so every
 * endpoint answers errors the same way.
 */
public final class ApiException extends Exception {

    private static final long serialVersionUID = 1L;

    private final int status;
    private final String type;
    private final String code;
    private final String param;

    public ApiException(int status, String type, String code, String param, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.code = code;
        this.param = param;
    }

    /** 400 for a value the client sent; {@code param} names it. */
    public static ApiException badRequest(String param, String code, String message) {
        return new ApiException(400, "invalid_request_error", code, param, message);
    }

    public static ApiException notFound(String code, String message) {
        return new ApiException(404, "invalid_request_error", code, null, message);
    }

    /** 503 for a request interrupted because the server is stopping. */
    public static ApiException shuttingDown() {
        return new ApiException(503, "server_error", "shutting_down", null, "The server is shutting down.");
    }

    /**
     * 500 for a failure nobody foresaw: the request fails, the server keeps running. The caller
     * logs the stack trace; the client gets the exception's one-line description.
     */
    public static ApiException internal(RuntimeException e) {
        return new ApiException(500, "server_error", "internal_error", null, "Internal error: " + e
                + ". The server keeps running; the log has the details.");
    }

    /**
     * The answer to a failed load, by the failure's {@link ModelLoadException#reason() reason}
     * rather than its wording: a damaged or unsupported file or too large a model is the request's
     * problem (422, naming the file or key), a bad option 400 naming it, anything else 500.
     */
    public static ApiException of(ModelLoadException e) {
        return switch (e.reason()) {
            case INVALID_OPTION -> badRequest(e.param(), "invalid_option", e.userMessage());
            case INVALID_FILE -> new ApiException(422, "invalid_request_error", "invalid_model_file", e.param(),
                    e.userMessage());
            case UNSUPPORTED -> new ApiException(422, "invalid_request_error", "unsupported_model", e.param(),
                    e.userMessage());
            case TOO_LARGE -> new ApiException(422, "invalid_request_error", "model_too_large", e.param(),
                    e.userMessage());
            case FAILED -> new ApiException(500, "server_error", "load_failed", e.param(), e.userMessage());
        };
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String code() {
        return code;
    }

    public String param() {
        return param;
    }
}
