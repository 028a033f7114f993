package io.loadstone.engine;

import io.loadstone.api.loader.ModelLoadException;
import java.nio.file.Path;

/**
 * A checkpoint file is unusable: unreadable, corrupt, inconsistent with {@code config.json}, or
 * of a kind the engine does not run. The message names the file and what is wrong with it;
 * {@link #fix()} says what the user can do.
 */
public class ModelFileException extends ModelLoadException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;

    public ModelFileException(Path file, String problem, String fix) {
        super(file + ": " + problem, fix);
        this.file = file;
    }

    public ModelFileException(Path file, String problem, String fix, Throwable cause) {
        super(file + ": " + problem, fix, cause);
        this.file = file;
    }

    /** The file (or folder) the problem is in. */
    public Path file() {
        return file;
    }
}
