package io.loadstone.llamacpp;

import org.osgi.annotation.versioning.ProviderType;

/**
 * A native sampler chain bound to one {@link NativeModel}. Not thread-safe on its own: use it
 * from the thread that generates. Freed by {@link #close()} or with its model.
 */
@ProviderType
public interface TokenSampler extends AutoCloseable {

    /**
     * Picks the next token from the logits of the last token of the last
     * {@link NativeModel#decode} and records it as accepted.
     */
    int sample() throws LlamaException;

    /** Records a token the chain did not pick itself (prompt tokens, for the penalties). */
    void accept(int token) throws LlamaException;

    /** Forgets accepted tokens and Mirostat state. */
    void reset() throws LlamaException;

    @Override
    void close();
}
