package io.loadstone.ui.evaluation;

/**
 * One perplexity evaluation as the page and the API ask for it, already checked for shape (the servlet
 * answers 400 for bad values). The UI's own type, so that the servlet never links against the evaluation
 * bundle: {@link PerplexityDesk} turns it into that bundle's request.
 *
 * @param model     a model's name (loaded with its settings first when it is not loaded), or null for the most
 *                  recently loaded one; ignored when {@code models} is given
 * @param dataset   a {@code *.txt} file name in the datasets folder, or null when {@code text} is given
 * @param text      pasted text, or null when {@code dataset} is given
 * @param stride    tokens the window moves each step (1 = slowest, most accurate)
 * @param maxLength window length in tokens; 0 = the model's context length
 * @param method    {@code windows} (text-generation-webui) or {@code chunks} (llama.cpp's perplexity tool)
 * @param force     evaluate again even when the log already has this evaluation
 * @param comment   free text stored with the result
 * @param models    several models evaluated in turn (text-generation-webui's model multiselect), or null for
 *                  the single {@code model}
 */
public record EvaluationInput(String model, String dataset, String text, int stride, int maxLength, String method,
        boolean force, String comment, java.util.List<String> models) {

    public EvaluationInput {
        models = models == null ? null : java.util.List.copyOf(models);
    }

    /** One model (or the loaded one, {@code model} null). */
    public EvaluationInput(String model, String dataset, String text, int stride, int maxLength, String method,
            boolean force, String comment) {
        this(model, dataset, text, stride, maxLength, method, force, comment, null);
    }

    /** The models to evaluate in order: {@code models}, or the one {@code model} (null = the loaded model). */
    public java.util.List<String> names() {
        return models != null ? models : java.util.Collections.singletonList(model);
    }

    /** What the job list and the log call the text: the dataset's name or "pasted text". */
    public String source() {
        return dataset != null ? dataset : "pasted text (" + text.length() + " characters)";
    }
}
