package io.loadstone.evaluation.perplexity;

import java.util.ArrayList;
import java.util.List;

/**
 * Which slices of the token sequence are run through the model, and which of their
 * predictions are scored. Pure arithmetic, kept apart from the model calls so the edge cases
 * (stride above max_length, a text shorter than one window, stride 1) are testable alone.
 *
 * <p>A window runs {@code tokens[begin, end)}; the logits at window position {@code j}
 * predict window token {@code j + 1}; positions {@code firstScored .. end-begin-2} are scored,
 * i.e. tokens {@code begin+firstScored+1 .. end-1}. {@code bos} >= 0 replaces the window's
 * first token (llama.cpp's chunks).
 */
record Windows(List<Window> list) {

    record Window(int begin, int end, int firstScored, int bos) {
        int length() {
            return end - begin;
        }

        int scored() {
            return Math.max(0, length() - 1 - firstScored);
        }
    }

    /**
     * text-generation-webui's loop ({@code modules/evaluate.py}, the Hugging Face "perplexity of
     * fixed-length models" recipe): {@code for begin in range(0, n, stride)}, {@code end =
     * min(begin + max_length, n)}, {@code trg_len = end - prev_end}, labels before the last
     * {@code trg_len} set to -100, stop when {@code end == n}. The model's loss shifts labels
     * by one, so the window's first token is never a target: the last {@code trg_len} labels
     * are window positions {@code L - trg_len .. L-1}, predicted by positions one earlier, and
     * position 0 cannot be predicted (when {@code trg_len >= L}, e.g. the first window or a
     * stride above max_length, {@code L - 1} labels are scored).
     */
    static Windows sliding(int n, int stride, int maxLength) {
        List<Window> out = new ArrayList<>();
        int prevEnd = 0;
        for (int begin = 0; begin < n; begin += stride) {
            int end = Math.min(begin + maxLength, n);
            int trg = end - prevEnd;
            int length = end - begin;
            // Labels kept: window positions >= length - trg (and >= 1 after the shift);
            // scored logits positions are one earlier.
            int firstLabel = Math.max(1, length - trg);
            out.add(new Window(begin, end, firstLabel - 1, -1));
            prevEnd = end;
            if (end == n) {
                break;
            }
            if (begin > Integer.MAX_VALUE - stride) {
                break;
            }
        }
        return new Windows(List.copyOf(out));
    }

    /**
     * llama.cpp's {@code perplexity()} ({@code examples/perplexity/perplexity.cpp}):
     * {@code n_chunk = n / n_ctx} whole chunks (the remainder is dropped), chunk {@code i} runs
     * {@code tokens[i*n_ctx, (i+1)*n_ctx)} with its first token replaced by BOS when the model
     * adds one, and {@code process_logits} scores positions {@code first = n_ctx/2 ..
     * n_ctx-2}, i.e. {@code n_ctx - 1 - n_ctx/2} tokens per chunk.
     */
    static Windows chunks(int n, int nCtx, int bos) {
        List<Window> out = new ArrayList<>();
        int first = nCtx / 2;
        for (int i = 0; i < n / nCtx; i++) {
            out.add(new Window(i * nCtx, (i + 1) * nCtx, first, bos));
        }
        return new Windows(List.copyOf(out));
    }

    int scored() {
        int s = 0;
        for (Window w : list) {
            s += w.scored();
        }
        return s;
    }
}
