package io.loadstone.loader.ctransformers;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * text-generation-webui's {@code model_type} choices for ctransformers, each mapped to the
 * {@code general.architecture} llama.cpp writes into GGUF files for that family. Aliases
 * (dollyv2, gptbigcode) map to the same architecture as their family.
 */
final class ModelTypes {

    /** "None": the architecture is read from the file. */
    static final String AUTO = "None";

    /** ctransformers model_type → llama.cpp general.architecture, in webui's order. */
    private static final Map<String, String> ARCHITECTURE = new LinkedHashMap<>();

    static {
        ARCHITECTURE.put("gpt2", "gpt2");
        ARCHITECTURE.put("gptj", "gptj");
        ARCHITECTURE.put("gptneox", "gptneox");
        ARCHITECTURE.put("llama", "llama");
        ARCHITECTURE.put("mpt", "mpt");
        ARCHITECTURE.put("dollyv2", "gptneox");
        // ctransformers ran Replit with its own GGML code; llama.cpp has never had a Replit architecture.
        ARCHITECTURE.put("replit", "replit");
        ARCHITECTURE.put("starcoder", "starcoder");
        ARCHITECTURE.put("gptbigcode", "starcoder");
        ARCHITECTURE.put("falcon", "falcon");
    }

    private ModelTypes() {
    }

    /** The option's choices: None first, then webui's list. */
    static List<String> choices() {
        List<String> out = new ArrayList<>();
        out.add(AUTO);
        out.addAll(ARCHITECTURE.keySet());
        return List.copyOf(out);
    }

    /** The llama.cpp architecture of a model_type other than None. */
    static String architecture(String modelType) {
        return ARCHITECTURE.get(modelType);
    }

    /** The model_type names for a llama.cpp architecture, e.g. "gptneox or dollyv2"; empty if none. */
    static Optional<String> namesFor(String architecture) {
        List<String> names = ARCHITECTURE.entrySet().stream().filter(e -> e.getValue().equals(architecture))
                .map(Map.Entry::getKey).toList();
        return names.isEmpty() ? Optional.empty() : Optional.of(String.join(" or ", names));
    }

    /**
     * True for the families ctransformers existed for, which llama.cpp's own loader ranks no
     * higher than any other GGUF: every model_type architecture except llama's.
     */
    static boolean isCtransformersFamily(String architecture) {
        return !architecture.equals("llama") && ARCHITECTURE.containsValue(architecture);
    }
}
