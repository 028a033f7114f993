package io.loadstone.sampling;

import java.util.Arrays;

/**
 * The token ids of one sequence, prompt first: what transformers calls {@code input_ids}.
 * Penalties and n-gram bans look at the prompt too, as they do in transformers.
 */
public final class TokenHistory {

    private int[] tokens;
    private int size;

    public TokenHistory() {
        this(new int[0]);
    }

    public TokenHistory(int[] prompt) {
        tokens = Arrays.copyOf(prompt, Math.max(16, prompt.length * 2));
        size = prompt.length;
    }

    public void add(int token) {
        if (size == tokens.length) {
            tokens = Arrays.copyOf(tokens, tokens.length * 2);
        }
        tokens[size++] = token;
    }

    public int size() {
        return size;
    }

    public int get(int index) {
        if (index < 0 || index >= size) {
            throw new IndexOutOfBoundsException("token " + index + " of a history of " + size);
        }
        return tokens[index];
    }

    /** The last token, or -1 when the history is empty. */
    public int last() {
        return size == 0 ? -1 : tokens[size - 1];
    }

    public int[] toArray() {
        return Arrays.copyOf(tokens, size);
    }

    /** Backing array without copying, for processors; only the first {@link #size()} entries are valid. */
    int[] raw() {
        return tokens;
    }

    @Override
    public String toString() {
        return Arrays.toString(toArray());
    }
}
