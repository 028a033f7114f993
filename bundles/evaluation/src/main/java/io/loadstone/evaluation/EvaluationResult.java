package io.loadstone.evaluation;

import java.time.Instant;

/**
 * One evaluation, computed now or read back from the log.
 *
 * @param model        model name
 * @param loader       loader id
 * @param options      the load's effective options as compact {@code k=v, k=v} (sorted by key), with
 *                     {@code loras=name@scale+...} when LoRA adapters were applied
 * @param dataset      the dataset file name, or {@code pasted:<first 12 hex digits of the text's sha256>}
 * @param stride       stride used
 * @param maxLength    window length used (0 already replaced by the context length)
 * @param method       how it was computed
 * @param perplexity   the perplexity
 * @param tokens       tokens in the text (after tokenization, including BOS)
 * @param windows      model calls (windows or chunks); 0 when read from the log
 * @param scoredTokens tokens whose prediction was scored; 0 when read from the log
 * @param seconds      time taken; 0 when read from the log
 * @param date         when it was computed
 * @param comment      the request's comment ("" when none)
 * @param fromLog      true when this result was already in the log and not computed again
 */
public record EvaluationResult(String model, String loader, String options, String dataset, int stride,
        int maxLength, PerplexityMethod method, double perplexity, int tokens, int windows, int scoredTokens,
        double seconds, Instant date, String comment, boolean fromLog) {
}
