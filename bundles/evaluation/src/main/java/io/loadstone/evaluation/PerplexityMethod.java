package io.loadstone.evaluation;

/** How a text is cut into model calls and how their losses become one perplexity. */
public enum PerplexityMethod {

    /**
     * text-generation-webui / Hugging Face "perplexity of fixed-length models" (the default):
     * windows of at most max_length tokens starting every stride tokens, each scoring only the
     * tokens not scored by the window before; perplexity = exp(mean of the window losses).
     */
    WINDOWS,

    /**
     * llama.cpp's {@code perplexity} tool: non-overlapping chunks of max_length tokens, the
     * first token of each replaced by BOS, only the second half of each chunk scored;
     * perplexity = exp(total NLL / scored tokens). Stride is not used.
     */
    CHUNKS
}
