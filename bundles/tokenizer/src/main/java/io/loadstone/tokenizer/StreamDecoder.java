package io.loadstone.tokenizer;

/**
 * Turns generated token ids into text one token at a time, for streaming output.
 *
 * <p>Each {@link #push} returns only text that is final: a character split over several
 * byte-fallback tokens (such as {@code <0xE2><0x82><0xAC>} for "€") is returned once, whole,
 * by the push that completes it, and spaces that depend on the previous token come out as a
 * full decode would write them. Concatenating every push and the final {@link #flush} gives
 * the same text as decoding all ids at once. Not thread-safe: one per generation.
 */
public interface StreamDecoder {

    /** Adds one token; returns the text it completes, often {@code ""}, never {@code null}. */
    String push(int tokenId);

    /**
     * Ends the stream: returns what is still held back (an incomplete byte sequence comes out as
     * U+FFFD replacement characters, as a full decode writes it) and resets nothing else.
     */
    String flush();
}
