package io.loadstone.engine;

import org.osgi.annotation.versioning.ProviderType;

/**
 * One sequence being evaluated: the KV cache of the tokens seen so far. Not thread-safe: one
 * thread at a time (different sessions may run in parallel).
 *
 * <p>Token ids out of {@code [0, vocabSize)} and sequences longer than the context limit are
 * refused with {@link IllegalArgumentException} before anything is computed, so the cache stays
 * as it was.
 */
@ProviderType
public interface EngineSession extends AutoCloseable {

    /** Number of positions in the KV cache (tokens evaluated since the last reset). */
    int position();

    /** Most positions this session can hold. */
    int maxContext();

    /** Length of every logits row. */
    int vocabSize();

    /**
     * Appends {@code tokens} to the cache and returns the logits after the last of them.
     *
     * @throws IllegalArgumentException empty input, an id out of range, or the context would overflow
     */
    float[] forward(int[] tokens);

    /**
     * Appends {@code tokens} to the cache and returns the logits after each of them
     * ({@code [tokens.length][vocabSize]}), e.g. for perplexity.
     */
    float[][] forwardAll(int[] tokens);

    /** Forgets every position from {@code position} on (to reuse a common prefix). */
    void truncate(int position);

    /** Empties the cache (keeps its memory for reuse). */
    void reset();

    /** Frees the KV cache. Idempotent. */
    @Override
    void close();
}
