package io.loadstone.sampling;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * One step of the logits chain: rewrites next-token scores in place.
 *
 * <p>Filtered tokens get {@link Float#NEGATIVE_INFINITY}, exactly as transformers'
 * {@code filter_value}; a processor never turns a {@code -inf} score finite. Instances
 * belong to one {@link SamplingSession} (they may keep scratch arrays and per-generation
 * state) and are not thread-safe.
 *
 * <p>A loader may add its own (a grammar, say) with
 * {@link SamplingSession.Builder#processor(LogitsProcessor)}.
 */
@ConsumerType
public interface LogitsProcessor {

    /**
     * @param history every token of the sequence so far (prompt first), oldest first
     * @param scores  one score per vocabulary entry, rewritten in place
     */
    void process(TokenHistory history, float[] scores);

    /** Short name for logs and chain descriptions (the text-generation-webui parameter name). */
    default String name() {
        return getClass().getSimpleName();
    }
}
