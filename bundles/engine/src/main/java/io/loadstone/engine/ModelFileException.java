package io.loadstone.engine;

import io.loadstone.api.loader.ModelLoadException;
import java.nio.file.Path;

/**
 * A checkpoint file is unusable: unreadable, corrupt, inconsistent with {@code config.json}, or
 * of a kind the engine does not run. The message names the file and what is wrong with it;
 * {@link #fix()} says what the user can do. Its {@link #reason()} is
 * {@link ModelLoadException.Reason#INVALID_FILE}, so the HTTP layer answers it as the request's problem.
 */
public class ModelFileException extends ModelLoadException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;

    public ModelFileException(Path file, String problem, String fix) {
        this(file, problem, fix, null);
    }

    public ModelFileException(Path file, String problem, String fix, Throwable cause) {
        super(Reason.INVALID_FILE, file == null || file.getFileName() == null ? null : file.getFileName().toString(),
                file + ": " + problem, fix, cause);
        this.file = file;
    }

    /** The file (or folder) the problem is in. */
    public Path file() {
        return file;
    }
}
