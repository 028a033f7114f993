package io.loadstone.llamacpp.runner;

import io.loadstone.llamacpp.LlamaException;

/**
 * The runner process of a model ended (native crash or abort, out of memory, killed). The
 * message names the model and quotes what the process printed last; it is meant for the user
 * as it is. The model cannot be used any more: unload it, and load it again.
 */
public final class RunnerStoppedException extends LlamaException {

    private static final long serialVersionUID = 1L;

    RunnerStoppedException(String message, Throwable cause) {
        super(message, cause);
    }
}
