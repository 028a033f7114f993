package io.loadstone.llamacpp.loading;

import java.util.Arrays;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.llamacpp.InferenceContext;
import io.loadstone.llamacpp.LlamaException;

/**
 * One llama.cpp context and the tokens whose keys and values its KV cache holds, in position
 * order, so that a prompt that starts like what was evaluated last time (a chat, a regenerate)
 * only evaluates its new tokens. Shared by the llama.cpp loaders. Not thread-safe: a model uses
 * it under its own lock.
 */
public final class CachedSequence {

    private final InferenceContext context;
    private int[] cached = new int[0];
    private int length;

    public CachedSequence(InferenceContext context) {
        this.context = context;
    }

    public InferenceContext context() {
        return context;
    }

    /** The next free position. */
    public int position() {
        return length;
    }

    /**
     * Evaluates {@code tokens} from position 0, reusing the cached common prefix (at least the
     * last token is always evaluated, for its logits); returns the logits after the last token.
     */
    public float[] prefill(int[] tokens) throws LlamaException {
        prefillNoLogits(tokens);
        return context.lastLogits();
    }

    /** As {@link #prefill}, leaving the logits in the context (for a native sampler). */
    public void prefillNoLogits(int[] tokens) throws LlamaException {
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
    }

    /** Evaluates one more token at the next position; returns its logits. */
    public float[] append(int token) throws LlamaException {
        advance(token);
        return context.lastLogits();
    }

    /**
     * Evaluates one more token at the next position, leaving its logits in the context (for a
     * native sampler, which reads them there; no copy into Java).
     */
    public void advance(int token) throws LlamaException {
        int pos = length;
        // Unknown state if the decode fails half-way: forget first, record after.
        int[] before = cached;
        forget();
        context.decode(new int[] {token}, pos);
        cached = before.length > pos ? before : Arrays.copyOf(before, Math.max(16, pos * 2));
        cached[pos] = token;
        length = pos + 1;
    }

    /** Evaluates {@code tokens} from an empty cache and returns the logits after each of them. */
    public float[][] evaluateAll(int[] tokens) throws LlamaException {
        forget();
        context.clearKvCache();
        float[][] out = context.decodeAll(tokens, 0);
        cached = tokens.clone();
        length = tokens.length;
        return out;
    }

    /**
     * What a loader's {@code LogitsAccess.evaluate} promises: {@code tokens} from an empty
     * context, the logits after every position or only after the last one.
     *
     * @throws ModelLoadException no tokens, or more than the context holds (nothing evaluated)
     */
    public float[][] evaluateFromEmpty(int[] tokens, boolean allPositions) throws LlamaException, ModelLoadException {
        if (tokens.length == 0) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "tokens",
                    "No tokens to evaluate.", "Pass at least one token.", null);
        }
        if (tokens.length > context.nCtx()) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "tokens",
                    tokens.length + " tokens do not fit into the context length n_ctx="
                    + context.nCtx() + ".", "Evaluate shorter windows, or reload with a larger n_ctx.", null);
        }
        if (allPositions) {
            return evaluateAll(tokens);
        }
        forget();
        return new float[][] {prefill(tokens)};
    }

    /** The cache content is unknown (an error, a close): the next prefill starts afresh. */
    public void forget() {
        cached = new int[0];
        length = 0;
    }
}
