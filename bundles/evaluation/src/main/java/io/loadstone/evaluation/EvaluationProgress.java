package io.loadstone.evaluation;

/** Told after each window (and once with 0 done before the first); return false to cancel. */
@FunctionalInterface
public interface EvaluationProgress {

    /** @return false to cancel the evaluation (it then ends with a ModelLoadException and logs nothing) */
    boolean progress(int windowsDone, int windowsTotal);
}
