package io.loadstone.engine.json;

/** Malformed JSON; {@link #offset()} is the character position where reading stopped. */
public final class JsonException extends Exception {

    private static final long serialVersionUID = 1L;

    private final int offset;

    public JsonException(String message, int offset) {
        super(message + " (at character " + offset + ")");
        this.offset = offset;
    }

    public int offset() {
        return offset;
    }
}
