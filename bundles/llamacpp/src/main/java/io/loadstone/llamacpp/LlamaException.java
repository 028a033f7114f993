package io.loadstone.llamacpp;

/**
 * llama.cpp refused or failed an operation. The message says what, on which file, and
 * quotes llama.cpp's own reason when it logged one.
 */
public class LlamaException extends Exception {

    private static final long serialVersionUID = 1L;

    public LlamaException(String message) {
        super(message);
    }

    public LlamaException(String message, Throwable cause) {
        super(message, cause);
    }
}
