package io.loadstone.loader.engine;

import io.loadstone.api.loader.Detection;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Which engine loader comes first for a quantized folder, in one table so that the loaders agree:
 * GPTQ folders (quantize_config.json or quantization_config) rank the GPTQ loaders, ExLlama_HF first
 * as text-generation-webui's {@code infer_loader} does for quantize_config.json, then the ExLlamav2s,
 * then Transformers (which loads them too, but is not the usual choice); {@code quant_method exl2}
 * ranks the ExLlamav2s; AWQ ranks AutoAWQ, then Transformers. Files first: a folder whose files say
 * nothing but whose name says GPTQ ({@code -gptq}, {@code -4bit-128g}, a {@code *.pt} checkpoint) is an
 * old GPTQ-for-LLaMa folder, ranked by name only (below 30, see {@link Detection}).
 */
public final class Ranking {

    public static final String TRANSFORMERS = "Transformers";
    public static final String AUTOGPTQ = "AutoGPTQ";
    public static final String GPTQ_FOR_LLAMA = "GPTQ-for-LLaMa";
    public static final String EXLLAMA = "ExLlama";
    public static final String EXLLAMA_HF = "ExLlama_HF";
    public static final String EXLLAMAV2 = "ExLlamav2";
    public static final String EXLLAMAV2_HF = "ExLlamav2_HF";
    public static final String AUTOAWQ = "AutoAWQ";

    private static final Map<String, Map<String, Integer>> SCORES = Map.of(
            "gptq", Map.of(EXLLAMA_HF, 90, AUTOGPTQ, 88, EXLLAMA, 86, GPTQ_FOR_LLAMA, 84, EXLLAMAV2_HF, 62,
                    EXLLAMAV2, 60, TRANSFORMERS, 50),
            "exl2", Map.of(EXLLAMAV2_HF, 90, EXLLAMAV2, 88),
            "awq", Map.of(AUTOAWQ, 90, TRANSFORMERS, 50),
            // Old GPTQ-for-LLaMa folders (no quantization config): names only.
            "gptq-name", Map.of(GPTQ_FOR_LLAMA, 25, AUTOGPTQ, 22));

    /** Names webui's old config.yaml and GPTQ-for-LLaMa's file lookup recognise as GPTQ. */
    private static final Pattern GPTQ_NAME = Pattern.compile(".*(gptq|[0-9]bit|int[2348]).*");

    private Ranking() {
    }

    /** The loaders a quantization method ranks, best first (for hints and documentation). */
    public static List<String> loadersFor(String method) {
        Map<String, Integer> m = SCORES.getOrDefault(method, Map.of());
        return m.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
                .map(Map.Entry::getKey).toList();
    }

    /**
     * How {@code loader} ranks for {@code f}: its score from the table with the format as reason, or
     * a refusal naming the loaders that fit.
     */
    public static Detection rank(String loader, HfFolder f) {
        String method = f.quant().method();
        String key = method.isEmpty() && looksGptq(f) ? "gptq-name" : method;
        Integer score = SCORES.getOrDefault(key, Map.of()).get(loader);
        if (score != null) {
            String what = key.equals("gptq-name")
                    ? "GPTQ without a quantization config (an old GPTQ-for-LLaMa folder, "
                            + (f.weightType().equals(HfFolder.PACKED) ? "packed tensors" : "by its name") + ")"
                    : f.quant().describe() + " (" + f.quantized() + ")";
            return new Detection(score, what + ", " + f.modelType());
        }
        if (key.isEmpty()) {
            return Detection.no("not a quantized checkpoint (no quantize_config.json, quant_config.json or "
                    + "quantization_config): use the Transformers loader");
        }
        List<String> fit = loadersFor(key);
        return Detection.no((key.equals("gptq-name") ? "GPTQ by name" : f.quant().describe()) + ": "
                + (fit.isEmpty() ? "no Loadstone loader reads " + key : "use " + String.join(", ", fit)));
    }

    /** An old GPTQ folder: a .pt checkpoint, or a name such as llama-13b-4bit-128g or model-GPTQ. */
    static boolean looksGptq(HfFolder f) {
        return f.format().equals(HfFolder.PT) || f.weightType().equals(HfFolder.PACKED)
                || GPTQ_NAME.matcher(name(f.folder())).matches();
    }

    private static String name(Path p) {
        return p.getFileName() == null ? "" : p.getFileName().toString().toLowerCase(Locale.ROOT);
    }
}
