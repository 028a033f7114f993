package io.loadstone.download;

import java.util.Objects;

/**
 * A download that cannot go on, with a message meant for the user: it names the repository, branch or file
 * and says what to do. {@link #reason()} lets front ends map it (the HTTP API to a status code, the UI to
 * an icon).
 */
public class DownloadException extends Exception {

    private static final long serialVersionUID = 1L;

    /** What went wrong, coarsely. */
    public enum Reason {
        /** The input is not a model id, URL or branch the Hub accepts. */
        INVALID_INPUT,
        /** The repo is GGUF-only and offers several files: the caller must choose one. */
        CHOICE_NEEDED,
        /** Repository, branch or file does not exist. */
        NOT_FOUND,
        /** Gated or private repository: a token and an accepted licence are needed. */
        UNAUTHORIZED,
        /** The Hub answered 429 longer than we are willing to wait. */
        RATE_LIMITED,
        /** Network or server error that did not go away after the retries. */
        NETWORK,
        /** A file's bytes did not match its SHA-256 or size. */
        INTEGRITY,
        /** The Hub's listing names a file that would land outside the target folder. */
        UNSAFE_PATH,
        /** Not enough free disk space. */
        DISK_SPACE,
        /** The target exists and is not this download. */
        ALREADY_EXISTS,
        /** Another download into the same target is running. */
        BUSY,
        /** Cancelled by the user; partial files are kept for a resume. */
        CANCELLED,
        /** A local file system error. */
        IO
    }

    private final Reason reason;

    public DownloadException(Reason reason, String message) {
        this(reason, message, null);
    }

    public DownloadException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    public Reason reason() {
        return reason;
    }
}
