package io.loadstone.gguf;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A file is not a valid GGUF file, or cannot be read. The message names the file, says what
 * is wrong and where (a byte offset, when there is one); {@link #fix()} says what the user can
 * do about it.
 */
public class GgufException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final long offset;
    private final String fix;

    /**
     * @param file   the file concerned
     * @param offset the byte offset where the problem is, or -1 if it has none
     * @param what   what is wrong, without the file name (it is prepended)
     * @param fix    what the user can do, e.g. "Download the file again."
     */
    public GgufException(Path file, long offset, String what, String fix) {
        this(file, offset, what, fix, null);
    }

    public GgufException(Path file, long offset, String what, String fix, Throwable cause) {
        super(fileName(file) + ": " + what, cause);
        this.file = Objects.requireNonNull(file, "file");
        this.offset = offset;
        this.fix = fix == null ? "" : fix;
    }

    private static String fileName(Path file) {
        Path name = file == null ? null : file.getFileName();
        return name == null ? String.valueOf(file) : name.toString();
    }

    /** The file concerned. */
    public Path file() {
        return file;
    }

    /** The byte offset in the file where the problem was found, or -1 if none applies. */
    public long offset() {
        return offset;
    }

    /** What the user can do, e.g. "Download the file again; compare its sha256 with the source." */
    public String fix() {
        return fix;
    }

    /** Message and fix in one line, for logs and status lines. */
    public String userMessage() {
        if (fix.isEmpty()) {
            return getMessage();
        }
        String m = getMessage();
        return m + (Character.isLetterOrDigit(m.charAt(m.length() - 1)) ? ". " : " ") + fix;
    }
}
