package io.loadstone.llamacpp;

/** The tokens do not fit into the context window (n_ctx) or the KV cache has no free slot. */
public class ContextFullException extends LlamaException {

    private static final long serialVersionUID = 1L;

    public ContextFullException(String message) {
        super(message);
    }
}
