package io.loadstone.llamacpp;

/** The model was closed, possibly by another thread while this call waited. */
public class ModelClosedException extends LlamaException {

    private static final long serialVersionUID = 1L;

    public ModelClosedException(String message) {
        super(message);
    }
}
