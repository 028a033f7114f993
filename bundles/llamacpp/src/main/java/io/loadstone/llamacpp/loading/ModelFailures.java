package io.loadstone.llamacpp.loading;

import java.nio.file.Path;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.ModelClosedException;
import io.loadstone.llamacpp.runner.RunnerStoppedException;

/** What a failed native call on a loaded GGUF model means to a user, worded the same by every llama.cpp loader. */
public final class ModelFailures {

    private ModelFailures() {
    }

    /** The model was unloaded while (or before) it was used. */
    public static ModelLoadException unloaded(Path file, Exception cause) {
        return new ModelLoadException("The model " + file.getFileName() + " was unloaded.", "Load it again.", cause);
    }

    /**
     * @param what   what was being done, e.g. "tokenize" ("llama.cpp could not tokenize with ...")
     * @param closed whether the model had been closed when the call failed
     */
    public static ModelLoadException of(Path file, String what, LlamaException e, boolean closed) {
        if (e instanceof ModelClosedException || closed) {
            return unloaded(file, e);
        }
        if (e instanceof RunnerStoppedException) {
            // Already says which model's process stopped and why, in the user's terms.
            return new ModelLoadException(e.getMessage(), "Unload the model and load it again; if its runner stops "
                    + "again, the file is corrupt or needs a newer llama.cpp build.", e);
        }
        return new ModelLoadException("llama.cpp could not " + what + " with " + file.getFileName() + ": "
                + e.getMessage(), "", e);
    }
}
