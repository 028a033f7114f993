package io.loadstone.api.loader;

/** Why a generation ended. */
public enum StopReason {
    /** The model produced end-of-sequence. */
    EOS,
    /** maxNewTokens reached. */
    LENGTH,
    /** A stop string appeared. */
    STOP_STRING,
    /** The sink returned false or the caller cancelled. */
    CANCELLED,
    /** The context window is full. */
    CONTEXT_FULL,
    /** The model was closed (unloaded, or its loader went away) during generation. */
    CLOSED
}
