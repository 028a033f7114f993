package io.loadstone.engine.llama;

import io.loadstone.engine.ModelConfig;
import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.json.Json;
import io.loadstone.engine.json.JsonException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads {@code config.json} of a llama, mistral or qwen2 checkpoint. Accepts both the
 * transformers 4.x keys ({@code rope_theta}, {@code rope_scaling}) and 5.x
 * ({@code rope_parameters}).
 *
 * @param model the public view
 * @param rope  RoPE as the config defines it (before user overrides)
 */
public record LlamaConfig(ModelConfig model, RopeSpec rope) {

    static final Set<String> MODEL_TYPES = Set.of("llama", "mistral", "qwen2");

    private static final String REDOWNLOAD = "Download config.json again from the model's repository.";

    /** @param quantizedWeights whether a loader supplies the linear layers (then quantization_config is fine) */
    public static LlamaConfig read(Path folder, boolean quantizedWeights) throws ModelFileException {
        Path file = folder.resolve("config.json");
        Map<String, Object> c;
        try {
            c = Json.parseObject(Files.readString(file, StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            throw new ModelFileException(file, "not found; a Hugging Face model folder needs its config.json",
                    "Download config.json with the weights.", e);
        } catch (java.nio.charset.MalformedInputException e) {
            throw new ModelFileException(file, "is not UTF-8 text", REDOWNLOAD, e);
        } catch (IOException e) {
            throw new ModelFileException(file, "cannot be read: " + e, "Check the file.", e);
        } catch (JsonException e) {
            throw new ModelFileException(file, "is not valid JSON: " + e.getMessage(), REDOWNLOAD, e);
        }
        return parse(file, c, quantizedWeights);
    }

    static LlamaConfig parse(Path file, Map<String, Object> c, boolean quantizedWeights) throws ModelFileException {
        String architecture = "";
        if (c.get("architectures") instanceof List<?> a && !a.isEmpty() && a.get(0) instanceof String s) {
            architecture = s;
        }
        String modelType = c.get("model_type") instanceof String s ? s : "";
        if (!MODEL_TYPES.contains(modelType)) {
            throw new ModelFileException(file, "model_type '" + modelType + "' (" + architecture
                    + ") is not a model this engine runs (it runs " + String.join(", ", MODEL_TYPES.stream().sorted().toList()) + ")",
                    "Use a loader that supports this architecture (e.g. llama.cpp with a GGUF file).");
        }
        if (!quantizedWeights && c.get("quantization_config") instanceof Map<?, ?> q) {
            throw new ModelFileException(file, "describes a quantized checkpoint (quant_method " + q.get("quant_method")
                    + "); this engine reads F32/F16/BF16 weights", "Open it with the loader for that quantization format.");
        }
        if (c.get("hidden_act") instanceof String act && !act.equals("silu")) {
            throw new ModelFileException(file, "hidden_act '" + act + "' is not supported (only silu)", "Use another loader for this model.");
        }
        int hidden = positiveInt(file, c, "hidden_size", null);
        int heads = positiveInt(file, c, "num_attention_heads", null);
        int kvHeads = positiveInt(file, c, "num_key_value_heads", heads);
        int headDim;
        if (c.get("head_dim") instanceof Long) {
            headDim = positiveInt(file, c, "head_dim", null);
        } else {
            if (hidden % heads != 0) {
                throw new ModelFileException(file, "hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads
                        + " and head_dim is not given", REDOWNLOAD);
            }
            headDim = hidden / heads;
        }
        if (heads % kvHeads != 0) {
            throw new ModelFileException(file, "num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads,
                    REDOWNLOAD);
        }
        if (headDim % 2 != 0) {
            throw new ModelFileException(file, "head_dim " + headDim + " is odd; rotary embeddings need an even head size", REDOWNLOAD);
        }
        int ffn = positiveInt(file, c, "intermediate_size", null);
        int layers = positiveInt(file, c, "num_hidden_layers", null);
        int vocab = positiveInt(file, c, "vocab_size", null);
        int maxPos = positiveInt(file, c, "max_position_embeddings", 2048);
        double eps = number(file, c, "rms_norm_eps", 1e-6);
        boolean tie = bool(file, c, "tie_word_embeddings", false);
        boolean bias = modelType.equals("qwen2") || bool(file, c, "attention_bias", false);
        if (bool(file, c, "mlp_bias", false)) {
            throw new ModelFileException(file, "mlp_bias is true; MLP biases are not supported yet", "Use another loader for this model.");
        }
        int window = 0;
        if (c.get("sliding_window") instanceof Long w && w > 0) {
            // qwen2 configs carry a sliding_window that is only used when use_sliding_window is set.
            boolean used = !modelType.equals("qwen2") || bool(file, c, "use_sliding_window", false);
            if (used && w < maxPos) {
                window = (int) Math.min(w, Integer.MAX_VALUE);
            }
        }
        RopeSpec rope = rope(file, c);
        int bos = c.get("bos_token_id") instanceof Long b ? (int) (long) b : -1;
        List<Integer> eos = new ArrayList<>();
        if (c.get("eos_token_id") instanceof Long e) {
            eos.add((int) (long) e);
        } else if (c.get("eos_token_id") instanceof List<?> list) {
            for (Object o : list) {
                if (o instanceof Long e) {
                    eos.add((int) (long) e);
                }
            }
        }
        ModelConfig model = new ModelConfig(modelType, architecture, hidden, ffn, layers, heads, kvHeads, headDim, vocab, maxPos,
                eps, rope.base(), rope.describe(), tie, bias, window, bos, eos, "?", 0);
        return new LlamaConfig(model, rope);
    }

    private static RopeSpec rope(Path file, Map<String, Object> c) throws ModelFileException {
        Map<?, ?> params = null;
        if (c.get("rope_parameters") instanceof Map<?, ?> p) {
            params = p;
        } else if (c.get("rope_scaling") instanceof Map<?, ?> p) {
            params = p;
        }
        double theta = 10000.0;
        if (params != null && params.get("rope_theta") instanceof Number n) {
            theta = n.doubleValue();
        } else if (c.get("rope_theta") instanceof Number n) {
            theta = n.doubleValue();
        }
        if (!(theta > 1) || Double.isInfinite(theta)) {
            throw new ModelFileException(file, "rope_theta " + theta + " is not a valid RoPE base", REDOWNLOAD);
        }
        if (params == null) {
            return RopeSpec.plain(theta);
        }
        Object t = params.get("rope_type") != null ? params.get("rope_type") : params.get("type");
        String type = t instanceof String s ? s : "default";
        double factor = params.get("factor") instanceof Number n ? n.doubleValue() : 1.0;
        switch (type) {
            case "default" -> {
                return RopeSpec.plain(theta);
            }
            case "linear" -> {
                if (!(factor > 0)) {
                    throw new ModelFileException(file, "rope_scaling factor " + factor + " must be positive", REDOWNLOAD);
                }
                return new RopeSpec(theta, "linear", factor, 0, 0, 0);
            }
            case "llama3" -> {
                double low = params.get("low_freq_factor") instanceof Number n ? n.doubleValue() : 1.0;
                double high = params.get("high_freq_factor") instanceof Number n ? n.doubleValue() : 4.0;
                int orig = params.get("original_max_position_embeddings") instanceof Long n ? (int) (long) n : 8192;
                if (!(factor > 0) || !(high > low) || orig <= 0) {
                    throw new ModelFileException(file, "llama3 rope_scaling needs factor > 0, high_freq_factor > low_freq_factor and "
                            + "original_max_position_embeddings > 0", REDOWNLOAD);
                }
                return new RopeSpec(theta, "llama3", factor, low, high, orig);
            }
            default -> throw new ModelFileException(file, "rope_scaling type '" + type + "' is not supported (default, linear and "
                    + "llama3 are)", "Use another loader for this model, or remove rope_scaling and set compress_pos_emb / alpha_value.");
        }
    }

    private static int positiveInt(Path file, Map<String, Object> c, String key, Integer dflt) throws ModelFileException {
        Object v = c.get(key);
        if ((v == null || v == Json.NULL) && dflt != null) {
            return dflt;
        }
        if (v instanceof Long l && l > 0 && l <= Integer.MAX_VALUE) {
            return (int) (long) l;
        }
        throw new ModelFileException(file, key + (v == null ? " is missing" : " is " + v + ", not a positive integer"), REDOWNLOAD);
    }

    private static double number(Path file, Map<String, Object> c, String key, double dflt) throws ModelFileException {
        Object v = c.get(key);
        if (v == null || v == Json.NULL) {
            return dflt;
        }
        if (v instanceof Number n && n.doubleValue() >= 0 && Double.isFinite(n.doubleValue())) {
            return n.doubleValue();
        }
        throw new ModelFileException(file, key + " is " + v + ", not a non-negative number", REDOWNLOAD);
    }

    private static boolean bool(Path file, Map<String, Object> c, String key, boolean dflt) throws ModelFileException {
        Object v = c.get(key);
        if (v == null || v == Json.NULL) {
            return dflt;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        throw new ModelFileException(file, key + " is " + v + ", not true or false", REDOWNLOAD);
    }
}
