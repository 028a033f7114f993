package io.loadstone.api.runtime;

import java.util.Map;

/**
 * What a model's files say about it, read without loading it.
 *
 * @param format         e.g. "GGUF v3, architecture llama, 292.8K parameters, F32" or "safetensors (llama)"
 * @param architecture   e.g. "llama", "mistral", "qwen2"; empty if unknown
 * @param contextLength  trained context length ({@code <arch>.context_length}, {@code max_position_embeddings}); 0 if unknown
 * @param ropeFreqBase   RoPE base from the files ({@code rope.freq_base}, {@code rope_theta}); 0 if unknown
 * @param compressPosEmb linear RoPE scaling factor from the files; 1 when none
 * @param quantMethod    "gptq", "awq", "exl2", a GGUF type name, or empty
 * @param wbits          bits per weight of a GPTQ/AWQ model (from its config, else from a -4bit- name); 0 if none
 * @param groupsize      quantisation group size (-1 = none / per column); 0 if unknown
 * @param descAct        GPTQ act-order; false if unknown
 * @param chatTemplate   Jinja chat template from the files, or empty
 * @param extra          other facts by name, for display
 */
public record ModelMetadata(String format, String architecture, long contextLength, double ropeFreqBase,
        double compressPosEmb, String quantMethod, int wbits, int groupsize, boolean descAct, String chatTemplate,
        Map<String, Object> extra) {

    public ModelMetadata {
        format = format == null ? "" : format;
        architecture = architecture == null ? "" : architecture;
        quantMethod = quantMethod == null ? "" : quantMethod;
        chatTemplate = chatTemplate == null ? "" : chatTemplate;
        extra = extra == null ? Map.of() : Map.copyOf(extra);
    }
}
