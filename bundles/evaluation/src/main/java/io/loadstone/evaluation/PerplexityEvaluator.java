package io.loadstone.evaluation;

import java.nio.file.Path;
import java.util.List;

import org.osgi.annotation.versioning.ProviderType;

import io.loadstone.api.loader.ModelLoadException;

/**
 * Perplexity of a loaded model on a text (text-generation-webui's "Perplexity evaluation").
 * Published by the evaluation bundle; the web UI, the HTTP API and the shell use it.
 */
@ProviderType
public interface PerplexityEvaluator {

    /** Where dataset files ({@code *.txt}) are listed from (text-generation-webui: training/datasets). */
    Path datasetsDir();

    /** The CSV log of every evaluation (logs/evaluations.csv). */
    Path logFile();

    /** The {@code *.txt} file names in the datasets folder, sorted. */
    List<String> datasets();

    /**
     * Evaluates, or returns the logged result when this combination (model, loader, options,
     * dataset, method, stride, max_length) was evaluated before and {@code force} is false.
     * Blocks until done; appends the result to the log. A cancelled or failed evaluation logs nothing.
     * <p>
     * A named model that is not loaded is loaded first with its settings (the loader and options
     * the model menu shows for it: defaults, its files, saved settings), as text-generation-webui
     * does for each model of its multi-model evaluation, and stays loaded afterwards (the
     * runtime's memory budget unloads older models as needed). The log is consulted before
     * loading, so a combination already evaluated with those settings loads nothing.
     *
     * @param progress told before a load and after each window, may be null
     * @throws ModelLoadException for a bad request (no such dataset, bad stride, no model of that
     *         name, ...), when no model is loaded or its loader exposes no logits, when loading
     *         fails (the loader's message and fix), when cancelled, or when the model is
     *         unloaded meanwhile
     */
    EvaluationResult evaluate(EvaluationRequest request, EvaluationProgress progress) throws ModelLoadException;

    /** The rows of the log, oldest first. */
    List<EvaluationResult> history();
}
