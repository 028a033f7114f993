package io.loadstone.api.runtime;

import java.time.Instant;
import java.util.Objects;

/**
 * Something changed in the runtime.
 *
 * @param type    what happened
 * @param model   the model concerned, or empty
 * @param loader  the loader concerned, or empty
 * @param message text for users (error messages say what to do)
 * @param time    when
 */
public record ModelEvent(Type type, String model, String loader, String message, Instant time) {

    public ModelEvent {
        Objects.requireNonNull(type, "type");
        model = model == null ? "" : model;
        loader = loader == null ? "" : loader;
        message = message == null ? "" : message;
        time = time == null ? Instant.now() : time;
    }

    /** Kinds of event. */
    public enum Type {
        LOADING, LOADED, LOAD_FAILED, UNLOADED,
        /** The loader of a loaded model went away; the model was closed. */
        LOADER_GONE,
        LOADER_ADDED, LOADER_REMOVED,
        /** The models folder changed. */
        MODELS_CHANGED,
        /** The LoRA adapters applied to a loaded model changed (or the loras folder did). */
        LORAS_CHANGED
    }
}
