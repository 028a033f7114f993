package io.loadstone.evaluation;

/**
 * Told after each window (and once with 0 done before the first); return false to cancel.
 * When the requested model is not loaded, {@link #loading} is told first, before it is loaded.
 */
@FunctionalInterface
public interface EvaluationProgress {

    /** @return false to cancel the evaluation (it then ends with a ModelLoadException and logs nothing) */
    boolean progress(int windowsDone, int windowsTotal);

    /**
     * The evaluator is about to load {@code model} with {@code loaderId} and its saved settings
     * (the model was not loaded). Loading blocks until done and cannot be interrupted; the
     * windows follow through {@link #progress}.
     *
     * @return false to cancel before loading (the evaluation then ends with a ModelLoadException)
     * @since 1.1
     */
    default boolean loading(String model, String loaderId) {
        return true;
    }
}
