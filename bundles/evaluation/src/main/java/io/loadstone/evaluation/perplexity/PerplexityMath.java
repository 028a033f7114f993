package io.loadstone.evaluation.perplexity;

import java.util.Arrays;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.ModelLogits;
import io.loadstone.evaluation.EvaluationProgress;
import io.loadstone.evaluation.PerplexityMethod;

/** Runs the windows through a model and turns their predictions into one perplexity. */
final class PerplexityMath {

    /** What a run produced. */
    record Outcome(double perplexity, int windows, int scoredTokens) {
    }

    private PerplexityMath() {
    }

    /**
     * Negative log-likelihood of {@code target} under the softmax of {@code logits}, in double
     * (log-sum-exp around the maximum, as llama.cpp's {@code log_softmax} and PyTorch's
     * cross-entropy do).
     */
    static double nll(float[] logits, int target) {
        float max = Float.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        for (float l : logits) {
            sum += Math.exp((double) l - max);
        }
        return Math.log(sum) - ((double) logits[target] - max);
    }

    static Outcome run(ModelLogits model, int[] tokens, Windows windows, PerplexityMethod method,
            EvaluationProgress progress) throws ModelLoadException {
        int total = windows.list().size();
        tell(progress, 0, total);
        double sumOfMeans = 0; // WINDOWS: mean of the window losses
        double sumNll = 0;     // CHUNKS: every scored token counts once
        int scored = 0;
        int done = 0;
        for (Windows.Window w : windows.list()) {
            if (w.scored() == 0) {
                // A one-token tail window predicts nothing: Hugging Face's loss would be NaN
                // there (and text-generation-webui's mean with it); it is left out of the mean.
                tell(progress, ++done, total);
                continue;
            }
            int[] slice = Arrays.copyOfRange(tokens, w.begin(), w.end());
            if (w.bos() >= 0) {
                slice[0] = w.bos();
            }
            float[][] logits = model.evaluate(slice, true);
            if (logits.length != slice.length) {
                throw new ModelLoadException("The " + model.loaderId() + " loader returned " + logits.length
                        + " rows of logits for " + slice.length + " tokens.", "This is a bug in that loader.");
            }
            double windowNll = 0;
            for (int j = w.firstScored(); j < slice.length - 1; j++) {
                int target = tokens[w.begin() + j + 1];
                if (target < 0 || target >= logits[j].length) {
                    throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, null,
                            "Token " + target + " is outside the vocabulary of "
                            + logits[j].length + ".", "The tokenizer and the model do not match.", null);
                }
                windowNll += nll(logits[j], target);
            }
            int n = w.scored();
            scored += n;
            sumNll += windowNll;
            if (n > 0) {
                sumOfMeans += windowNll / n;
            }
            done++;
            tell(progress, done, total);
        }
        double ppl = switch (method) {
            case WINDOWS -> Math.exp(sumOfMeans / windowsWithTargets(windows));
            case CHUNKS -> Math.exp(sumNll / scored);
        };
        return new Outcome(ppl, total, scored);
    }

    private static int windowsWithTargets(Windows windows) {
        return (int) windows.list().stream().filter(w -> w.scored() > 0).count();
    }

    private static void tell(EvaluationProgress progress, int done, int total) throws ModelLoadException {
        if (progress != null && !progress.progress(done, total)) {
            throw new ModelLoadException("The evaluation was cancelled after " + done + " of " + total
                    + " windows; nothing was logged.", "");
        }
    }
}
