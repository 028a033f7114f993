package io.loadstone.api.loader;

/**
 * Outcome of one generation.
 *
 * @param text             the generated text (without the prompt)
 * @param promptTokens     tokens in the prompt
 * @param generatedTokens  tokens generated
 * @param reason           why it stopped
 * @param promptNanos      time spent on the prompt (prefill)
 * @param generateNanos    time spent generating
 */
public record GenerationResult(String text, int promptTokens, int generatedTokens, StopReason reason,
        long promptNanos, long generateNanos) {

    /** Generated tokens per second, 0 when nothing was generated. */
    public double tokensPerSecond() {
        return generateNanos <= 0 ? 0 : generatedTokens * 1e9 / generateNanos;
    }
}
