package io.loadstone.llamacpp;

import org.osgi.annotation.versioning.ProviderType;

/**
 * One llama.cpp inference context: a KV cache holding one sequence, and the logits of the
 * last evaluation. {@link NativeModel} is its model's primary context;
 * {@link NativeModel#newContext()} gives more on the same weights.
 */
@ProviderType
public interface InferenceContext {

    /** The context window this context was created with. */
    int nCtx();

    /** The batch size {@link #decode} chunks by. */
    int nBatch();

    /**
     * Evaluates {@code tokens} at positions {@code firstPos, firstPos+1, ...} in chunks of
     * {@link #nBatch()}, keeping the logits of the last token ({@link #lastLogits()}).
     *
     * @throws ContextFullException when {@code firstPos + tokens.length > nCtx()} (nothing is
     *                              evaluated then) or llama.cpp finds no KV slot
     */
    void decode(int[] tokens, int firstPos) throws LlamaException;

    /**
     * Like {@link #decode} but returns the logits after every token,
     * {@code [tokens.length][nVocab]}.
     */
    float[][] decodeAll(int[] tokens, int firstPos) throws LlamaException;

    /** A copy of the logits of the last token of the last {@link #decode} ({@code llama_get_logits_ith}). */
    float[] lastLogits() throws LlamaException;

    /** Empties the KV cache (the next decode starts at position 0). */
    void clearKvCache() throws LlamaException;

    /**
     * Removes positions {@code [p0, p1)} of sequence 0 from the KV cache ({@code p1 < 0}:
     * to the end), e.g. to regenerate from a shared prompt prefix.
     *
     * @return false when llama.cpp cannot remove a part of a sequence (recurrent models)
     */
    boolean removeFromKvCache(int p0, int p1) throws LlamaException;
}
