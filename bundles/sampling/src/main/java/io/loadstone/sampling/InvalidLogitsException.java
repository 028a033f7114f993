package io.loadstone.sampling;

/**
 * The model produced logits no sampler can use (NaN or +infinity): its weights are damaged or
 * held in too low a precision. An {@link IllegalArgumentException} as before, but its own type so
 * a loader can tell the user's file apart from a bad request parameter without reading text.
 *
 * @since 1.2
 */
public class InvalidLogitsException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public InvalidLogitsException(String message) {
        super(message);
    }
}
