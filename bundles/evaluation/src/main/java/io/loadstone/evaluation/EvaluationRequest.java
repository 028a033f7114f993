package io.loadstone.evaluation;

/**
 * What to evaluate.
 *
 * @param model     a model's name (loaded first with its settings when it is not loaded), or
 *                  null/blank for the most recently loaded one
 * @param dataset   a {@code *.txt} file name inside the datasets folder, or null when {@code text} is given
 * @param text      pasted text, or null when {@code dataset} is given (exactly one of the two)
 * @param stride    tokens between window starts, at least 1 (text-generation-webui's default is 512;
 *                  1 is slowest and most accurate); ignored by {@link PerplexityMethod#CHUNKS}
 * @param maxLength tokens per window (chunk size for CHUNKS); 0 = the load's context length
 * @param method    null = {@link PerplexityMethod#WINDOWS}
 * @param force     evaluate again even if this combination is already in the log
 * @param comment   free text stored with the result (may be null)
 */
public record EvaluationRequest(String model, String dataset, String text, int stride, int maxLength,
        PerplexityMethod method, boolean force, String comment) {
}
