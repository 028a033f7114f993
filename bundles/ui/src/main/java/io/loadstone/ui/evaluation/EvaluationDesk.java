package io.loadstone.ui.evaluation;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import io.loadstone.ui.http.ApiException;

/**
 * The Evaluate tab and the perplexity API as the servlet sees them. Private to the UI bundle. It exists only
 * while a {@code io.loadstone.evaluation.PerplexityEvaluator} does ({@link PerplexityDesk}), so the servlet
 * never links against the evaluation bundle and the UI runs without it. One evaluation runs at a time: it
 * holds the loaded model's logits for its whole length.
 */
public interface EvaluationDesk {

    /** {@code {available, datasetsDir, logFile, datasets, history, job}}: everything the tab shows. */
    JsonObject overview();

    /** Where results are logged (logs/evaluations.csv). */
    String logFile();

    /** The datasets folder's {@code *.txt} names. */
    java.util.List<String> datasets();

    /** Starts a job in the background; 409 while one runs or when no fitting model is loaded. */
    JsonObject start(EvaluationInput input) throws ApiException;

    /** Runs a job and waits for it: the result, or the job's error as an {@link ApiException}. */
    JsonObject run(EvaluationInput input) throws ApiException, InterruptedException;

    /** Asks the running job to stop at its next window. */
    JsonObject cancel() throws ApiException;

    /** Logged results, newest first. */
    JsonArray history();

    /** Stops a running job (the UI is going away). */
    void close();
}
