package io.loadstone.tokenizer;

import java.nio.file.Path;

/** A tokenizer could not be opened; the message names the file and what to do about it. */
public class TokenizerException extends Exception {

    private static final long serialVersionUID = 1L;

    private final transient Path file;

    public TokenizerException(Path file, String message) {
        super(message);
        this.file = file;
    }

    public TokenizerException(Path file, String message, Throwable cause) {
        super(message, cause);
        this.file = file;
    }

    /** The file or folder at fault. */
    public Path file() {
        return file;
    }
}
