package io.loadstone.llamacpp;

import org.osgi.annotation.versioning.ProviderType;

/**
 * A further llama_context on an already loaded model ({@link NativeModel#newContext()}): the
 * same weights in memory, its own KV cache and logits, created with the model's context
 * parameters. Used e.g. for the negative prompt of classifier-free guidance, so that the main
 * sequence's cache is never evicted. LoRA adapters activated on the model do not apply here
 * (llama.cpp keeps the active set per context): activate them here too with {@link #setLora}.
 * Calls share the model's lock; closing the model closes this too.
 */
@ProviderType
public interface SecondaryContext extends InferenceContext, AutoCloseable {

    /**
     * Activates {@code adapter} (loaded with {@link NativeModel#loadLora} of this context's model)
     * in this context with {@code scale}, or changes its scale.
     */
    void setLora(LoraAdapter adapter, float scale) throws LlamaException;

    /** Deactivates {@code adapter} in this context; false when it was not active here. */
    boolean removeLora(LoraAdapter adapter) throws LlamaException;

    /** Deactivates every adapter in this context. */
    void clearLoras() throws LlamaException;

    boolean isClosed();

    /** Frees this context's KV cache. Idempotent; the model stays loaded. */
    @Override
    void close();
}
