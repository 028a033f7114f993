package io.loadstone.loader.llamacpphf;

import java.util.Arrays;

import io.loadstone.llamacpp.InferenceContext;
import io.loadstone.llamacpp.LlamaException;

/**
 * One llama.cpp context and the tokens whose keys and values its KV cache holds, in position
 * order, so that a prompt that starts like what was evaluated last time (a chat, a regenerate)
 * only evaluates its new tokens. Not thread-safe: the model uses it under its turn lock.
 */
final class CachedSequence {

    private final InferenceContext context;
    private int[] cached = new int[0];
    private int length;

    CachedSequence(InferenceContext context) {
        this.context = context;
    }

    InferenceContext context() {
        return context;
    }

    /** The next free position. */
    int position() {
        return length;
    }

    /**
     * Evaluates {@code tokens} from position 0, reusing the cached common prefix (at least the
     * last token is always evaluated, for its logits); returns the logits after the last token.
     */
    float[] prefill(int[] tokens) throws LlamaException {
        int common = 0;
        int max = Math.min(length, tokens.length - 1);
        while (common < max && cached[common] == tokens[common]) {
            common++;
        }
        forget();
        if (common == 0) {
            context.clearKvCache();
        } else if (!context.removeFromKvCache(common, -1)) {
            context.clearKvCache();
            common = 0;
        }
        context.decode(Arrays.copyOfRange(tokens, common, tokens.length), common);
        cached = tokens.clone();
        length = tokens.length;
        return context.lastLogits();
    }

    /** Evaluates one more token at the next position; returns its logits. */
    float[] append(int token) throws LlamaException {
        int pos = length;
        // Unknown state if the decode fails half-way: forget first, record after.
        int[] before = cached;
        forget();
        context.decode(new int[] {token}, pos);
        cached = before.length > pos ? before : Arrays.copyOf(before, Math.max(16, pos * 2));
        cached[pos] = token;
        length = pos + 1;
        return context.lastLogits();
    }

    /** Evaluates {@code tokens} from an empty cache and returns the logits after each of them. */
    float[][] evaluateAll(int[] tokens) throws LlamaException {
        forget();
        context.clearKvCache();
        float[][] out = context.decodeAll(tokens, 0);
        cached = tokens.clone();
        length = tokens.length;
        return out;
    }

    /** The cache content is unknown (an error, a close): the next prefill starts afresh. */
    void forget() {
        cached = new int[0];
        length = 0;
    }
}
