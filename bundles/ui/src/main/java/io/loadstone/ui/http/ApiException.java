package io.loadstone.ui.http;

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
