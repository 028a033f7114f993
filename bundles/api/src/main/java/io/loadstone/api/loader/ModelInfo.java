package io.loadstone.api.loader;

import java.util.List;
import java.util.Map;

/**
 * What a loaded model is.
 *
 * @param loaderId      the loader that loaded it
 * @param description   e.g. "llama 260K F32 (GGUF v3)"
 * @param contextLength tokens of context this load allows (n_ctx / max_seq_len)
 * @param trainedContextLength context length the model was trained with, 0 if unknown
 * @param vocabSize     vocabulary size
 * @param chatTemplate  Jinja chat template from the model, or empty
 * @param warnings      options that had no effect and why, and other things users should know
 * @param effectiveOptions the option values this load actually used
 *
 * <p>Loaders construct this record, so its canonical constructor is part of the contract: a new component
 * goes last, and the previous canonical constructor stays as a constructor that passes the new component's
 * default. The baseline (cnf/baseline) then sees an added constructor and accessor, a minor change.
 */
public record ModelInfo(String loaderId, String description, int contextLength, int trainedContextLength,
        int vocabSize, String chatTemplate, List<String> warnings, Map<String, Object> effectiveOptions) {

    public ModelInfo {
        warnings = List.copyOf(warnings);
        effectiveOptions = Map.copyOf(effectiveOptions);
        chatTemplate = chatTemplate == null ? "" : chatTemplate;
    }
}
