package io.loadstone.gguf;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The meaning of a model GGUF, checked after {@link GgufFile#read} found its structure sound:
 * the values llama.cpp trusts without checking and then asserts on (aborting the whole
 * process) or divides by. Each refusal names the key or tensor and the value found.
 *
 * <p>Checked: {@code general.architecture} present; {@code general.alignment} at least 32;
 * the architecture's required hyper-parameters ({@code block_count} 1..{@value #MAX_LAYERS},
 * {@code context_length}, {@code embedding_length}, {@code attention.head_count} at least 1,
 * {@code head_count_kv} dividing {@code head_count}, the normalisation epsilon its family uses)
 * with finite, positive epsilons below 1; {@code expert_count} at most {@value #MAX_EXPERTS}
 * and {@code expert_used_count} within it; an even {@code rope.dimension_count}; {@code tokenizer.ggml.model} one llama.cpp knows;
 * token strings present, non-empty and unique, with byte tokens spelled {@code <0xHH>};
 * scores and token types as many as tokens; as many tokens as embedding rows; no integer or
 * F64 tensors; normalisation weights and other one-dimensional tensors in F32; the
 * well-known keys llama.cpp reads with a fixed type ({@code general.file_type}, the token
 * ids…) in that type; and a tokenizer that fits the architecture (a BERT vocabulary only for
 * BERT models).
 */
public final class GgufModelCheck {

    /** llama.cpp b4916's {@code LLAMA_MAX_LAYERS}: arrays per layer are sized by it. */
    public static final int MAX_LAYERS = 512;
    /** llama.cpp b4916's {@code LLAMA_MAX_EXPERTS}. */
    public static final int MAX_EXPERTS = 256;
    /** The smallest alignment llama.cpp's loaders work with (its default). */
    public static final int MIN_ALIGNMENT = 32;

    /** {@code tokenizer.ggml.model} values llama.cpp b4916 has a tokenizer for. */
    static final Set<String> TOKENIZERS = Set.of("no_vocab", "none", "llama", "bert", "gpt2", "t5", "rwkv");
    /** Architectures whose llama.cpp code requires {@code attention.layer_norm_rms_epsilon}. */
    static final Set<String> RMS_NORM = Set.of("llama", "qwen2", "qwen2moe", "qwen2vl", "qwen3", "qwen3moe", "gemma",
            "gemma2", "gemma3", "phi3", "deepseek", "deepseek2", "granite", "granitemoe", "olmo2", "internlm2",
            "minicpm", "minicpm3", "exaone", "mamba", "orion", "xverse", "baichuan", "plamo", "arctic", "chameleon",
            "nemotron", "starcoder2", "deci");
    /** Architectures whose llama.cpp code requires {@code attention.layer_norm_epsilon}. */
    static final Set<String> LAYER_NORM = Set.of("gpt2", "falcon", "mpt", "gptneox", "starcoder", "bloom", "phi2",
            "stablelm", "bert", "nomic-bert", "jina-bert-v2", "gptj", "refact", "codeshell", "command-r", "cohere2",
            "olmo", "jais", "dbrx", "bitnet", "t5", "t5encoder", "persimmon");
    private static final int TOKEN_TYPE_BYTE = 6;
    private static final long NONE_ID = 0xFFFF_FFFFL;

    private final GgufFile file;
    private final String arch;

    private GgufModelCheck(GgufFile file) {
        this.file = file;
        this.arch = file.architecture();
    }

    /**
     * Checks a model: {@code parts} are the parts of one (possibly split) model in order, each
     * already read by {@link GgufFile#read}; metadata comes from the first, tensors from all.
     *
     * @throws GgufException naming the first part (or the part holding the tensor), the key or
     *                       tensor, what is wrong and a fix
     */
    public static void check(List<GgufFile> parts) throws GgufException {
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("no parts");
        }
        GgufModelCheck c = new GgufModelCheck(Objects.requireNonNull(parts.get(0)));
        c.metadata();
        long embdRows = -1;
        for (GgufFile part : parts) {
            for (GgufTensor t : part.tensors()) {
                tensor(part, t);
                if (t.name().equals("token_embd.weight") && t.rank() >= 2) {
                    embdRows = t.dim(1);
                }
            }
        }
        c.tokenizer(embdRows);
    }

    /** {@link #check(List)} for a model in one file. */
    public static void check(GgufFile model) throws GgufException {
        check(List.of(model));
    }

    private void metadata() throws GgufException {
        if (arch.isEmpty()) {
            throw fail("general.architecture is missing (or not a string): llama.cpp cannot tell which model this "
                    + "is");
        }
        if (file.valueType(GgufParser.ALIGNMENT_KEY).isPresent() && file.alignment() < MIN_ALIGNMENT) {
            throw fail(GgufParser.ALIGNMENT_KEY + " is " + file.alignment() + "; llama.cpp needs at least "
                    + MIN_ALIGNMENT);
        }
        long layers = required(arch + ".block_count", 1, MAX_LAYERS);
        required(arch + ".context_length", 1, Integer.MAX_VALUE);
        long embd = required(arch + ".embedding_length", 1, 1 << 20);
        long heads = perLayer(arch + ".attention.head_count", layers, true);
        long kvHeads = file.metadata().containsKey(arch + ".attention.head_count_kv")
                ? perLayer(arch + ".attention.head_count_kv", layers, false) : heads;
        if (heads > 0 && kvHeads > 0 && heads % kvHeads != 0) {
            throw fail(arch + ".attention.head_count_kv is " + kvHeads + ", which does not divide "
                    + arch + ".attention.head_count (" + heads + ")");
        }
        if (heads > 0 && !file.metadata().containsKey(arch + ".attention.key_length") && embd % heads != 0) {
            throw fail(arch + ".embedding_length (" + embd + ") is not a multiple of " + arch
                    + ".attention.head_count (" + heads + ") and there is no " + arch + ".attention.key_length");
        }
        optional(arch + ".attention.key_length", 1, 1 << 16);
        optional(arch + ".attention.value_length", 1, 1 << 16);
        long rope = optional(arch + ".rope.dimension_count", 1, 1 << 16);
        if (rope > 0 && rope % 2 != 0) {
            // RoPE rotates pairs of dimensions: ggml asserts n_dims % 2 == 0 and aborts.
            throw fail(arch + ".rope.dimension_count is " + rope + "; rotary embeddings need an even number");
        }
        if (file.metadata().containsKey(arch + ".feed_forward_length")) {
            perLayer(arch + ".feed_forward_length", layers, false);
        }
        epsilon(arch + ".attention.layer_norm_rms_epsilon", RMS_NORM.contains(arch));
        epsilon(arch + ".attention.layer_norm_epsilon", LAYER_NORM.contains(arch));
        long experts = optional(arch + ".expert_count", 0, MAX_EXPERTS);
        long used = optional(arch + ".expert_used_count", 0, MAX_EXPERTS);
        if (experts > 0 && used == 0 || used > Math.max(experts, 0)) {
            throw fail(arch + ".expert_used_count is " + Math.max(used, 0) + " with " + arch + ".expert_count "
                    + Math.max(experts, 0) + "; it must be between 1 and the expert count (0 without experts)");
        }
    }

    /** Keys llama.cpp reads with a fixed GGUF type (a different one fails an assertion in its getter). */
    static final Map<String, GgufValueType> TYPED_KEYS = Map.ofEntries(
            Map.entry("general.architecture", GgufValueType.STRING),
            Map.entry("general.name", GgufValueType.STRING),
            Map.entry("general.file_type", GgufValueType.UINT32),
            Map.entry("general.quantization_version", GgufValueType.UINT32),
            Map.entry("tokenizer.ggml.model", GgufValueType.STRING),
            Map.entry("tokenizer.ggml.pre", GgufValueType.STRING),
            Map.entry("tokenizer.chat_template", GgufValueType.STRING),
            Map.entry("tokenizer.ggml.add_bos_token", GgufValueType.BOOL),
            Map.entry("tokenizer.ggml.add_eos_token", GgufValueType.BOOL),
            Map.entry("tokenizer.ggml.add_space_prefix", GgufValueType.BOOL),
            Map.entry("tokenizer.ggml.bos_token_id", GgufValueType.UINT32),
            Map.entry("tokenizer.ggml.eos_token_id", GgufValueType.UINT32),
            Map.entry("tokenizer.ggml.unknown_token_id", GgufValueType.UINT32),
            Map.entry("tokenizer.ggml.seperator_token_id", GgufValueType.UINT32),
            Map.entry("tokenizer.ggml.padding_token_id", GgufValueType.UINT32),
            Map.entry("tokenizer.ggml.eot_token_id", GgufValueType.UINT32),
            Map.entry("tokenizer.ggml.eom_token_id", GgufValueType.UINT32),
            Map.entry("tokenizer.ggml.mask_token_id", GgufValueType.UINT32),
            Map.entry("tokenizer.ggml.cls_token_id", GgufValueType.UINT32));
    /** Tokenizers made for particular architectures only. */
    static final Map<String, Set<String>> TOKENIZER_ARCHS = Map.of(
            "bert", Set.of("bert", "nomic-bert", "jina-bert-v2"),
            "t5", Set.of("t5", "t5encoder"),
            "rwkv", Set.of("rwkv6", "rwkv6qwen2"));

    private void typedKeys() throws GgufException {
        for (Map.Entry<String, GgufValueType> e : TYPED_KEYS.entrySet()) {
            GgufValueType t = file.valueType(e.getKey()).orElse(null);
            if (t != null && t != e.getValue()) {
                throw fail(e.getKey() + " has type " + t + "; llama.cpp reads it as " + e.getValue());
            }
        }
    }

    private void tokenizer(long embdRows) throws GgufException {
        typedKeys();
        Object model = file.metadata().get("tokenizer.ggml.model");
        if (!(model instanceof String m)) {
            throw fail("tokenizer.ggml.model is " + (model == null ? "missing" : "not a string") + "; it names the "
                    + "tokenizer (one of " + String.join(", ", sorted(TOKENIZERS)) + ")");
        }
        if (!TOKENIZERS.contains(m)) {
            throw fail("tokenizer.ggml.model is '" + clip(m) + "', a tokenizer llama.cpp does not know (it knows "
                    + String.join(", ", sorted(TOKENIZERS)) + ")");
        }
        if (TOKENIZER_ARCHS.containsKey(m) && !TOKENIZER_ARCHS.get(m).contains(arch)) {
            throw fail("tokenizer.ggml.model is '" + m + "', a tokenizer for " + String.join("/",
                    sorted(TOKENIZER_ARCHS.get(m))) + " models, but general.architecture is '" + clip(arch) + "'");
        }
        if (m.equals("no_vocab") || m.equals("none")) {
            return;
        }
        GgufArray tokens = stringArray("tokenizer.ggml.tokens", true);
        int n = tokens.size();
        if (n == 0) {
            throw fail("tokenizer.ggml.tokens is empty");
        }
        GgufArray types = file.array("tokenizer.ggml.token_type").orElse(null);
        if (file.metadata().containsKey("tokenizer.ggml.token_type")
                && (types == null || !types.elementType().isInteger())) {
            throw fail("tokenizer.ggml.token_type is not an array of integers");
        }
        Map<String, Integer> seen = new HashMap<>(n * 2);
        for (int i = 0; i < n; i++) {
            String t = tokens.getString(i);
            if (t.isEmpty()) {
                throw fail("tokenizer.ggml.tokens[" + i + "] is an empty string; every token needs text");
            }
            Integer first = seen.putIfAbsent(t, i);
            if (first != null) {
                throw fail("tokenizer.ggml.tokens[" + i + "] ('" + clip(t) + "') repeats token " + first
                        + "; token strings must be unique");
            }
            if (types != null && i < types.size() && types.getLong(i) == TOKEN_TYPE_BYTE && m.equals("llama")
                    && !t.matches("<0x[0-9A-Fa-f]{2}>")) {
                throw fail("tokenizer.ggml.tokens[" + i + "] ('" + clip(t) + "') has token type BYTE but is not "
                        + "spelled <0xHH>");
            }
        }
        if (types != null && types.size() != n) {
            throw fail("tokenizer.ggml.token_type has " + types.size() + " entries for " + n + " tokens");
        }
        if (file.metadata().containsKey("tokenizer.ggml.scores")) {
            GgufArray scores = file.array("tokenizer.ggml.scores").orElse(null);
            if (scores == null || scores.elementType() != GgufValueType.FLOAT32) {
                throw fail("tokenizer.ggml.scores is not an array of FLOAT32");
            }
            if (scores.size() != n) {
                throw fail("tokenizer.ggml.scores has " + scores.size() + " entries for " + n + " tokens");
            }
        }
        if (m.equals("gpt2")) {
            stringArray("tokenizer.ggml.merges", true);
        }
        if (embdRows >= 0 && embdRows != n) {
            throw fail("tokenizer.ggml.tokens has " + n + " tokens but token_embd.weight has " + embdRows
                    + " rows; they must match");
        }
    }

    /**
     * Weights are float or block-quantized (integer and F64 tensors have no kernels: a matrix
     * product with one jumps to a null function); what llama.cpp multiplies element-wise (norms,
     * biases) must be F32, as every converter writes them (its CPU code asserts on other types).
     */
    private static void tensor(GgufFile part, GgufTensor t) throws GgufException {
        if (INTEGER_TYPES.contains(t.type())) {
            throw new GgufException(part.path(), -1, "tensor '" + clip(t.name()) + "' is stored as " + t.type()
                    + "; model weights are float (F32, F16, BF16) or quantized", GgufParser.FIX_CORRUPT);
        }
        boolean norm = t.name().contains("norm");
        if ((norm || t.rank() == 1) && t.type() != GgmlType.F32) {
            throw new GgufException(part.path(), -1, "tensor '" + clip(t.name()) + "' ("
                    + (norm ? "a normalisation weight" : "one-dimensional") + ") is stored as " + t.type()
                    + "; llama.cpp needs F32 there (converters always write these as F32)", GgufParser.FIX_CORRUPT);
        }
    }

    private static final Set<GgmlType> INTEGER_TYPES = java.util.EnumSet.of(GgmlType.I8, GgmlType.I16, GgmlType.I32,
            GgmlType.I64, GgmlType.F64);

    private long required(String key, long min, long max) throws GgufException {
        if (!file.metadata().containsKey(key)) {
            throw fail(key + " is missing; the " + arch + " architecture needs it");
        }
        return optional(key, min, max);
    }

    /** The integer under {@code key} within [min, max], or -1 when absent. */
    private long optional(String key, long min, long max) throws GgufException {
        Object v = file.metadata().get(key);
        if (v == null) {
            return -1;
        }
        long x = file.integer(key).orElseThrow(() -> fail(key + " is " + describe(v) + ", not an integer"));
        if (file.valueType(key).orElseThrow() == GgufValueType.UINT64 && x < 0 || x < min || x > max) {
            throw fail(key + " is " + (file.valueType(key).orElseThrow() == GgufValueType.UINT64 && x < 0
                    ? Long.toUnsignedString(x) : x) + "; it must be between " + min + " and " + max);
        }
        return x;
    }

    /**
     * An integer that may also be an array with one value per layer (as llama.cpp allows for
     * head counts and feed-forward sizes). Returns the scalar, or the largest element.
     */
    private long perLayer(String key, long layers, boolean required) throws GgufException {
        Object v = file.metadata().get(key);
        if (v instanceof GgufArray a) {
            if (!a.elementType().isInteger() || a.size() != layers) {
                throw fail(key + " is an array of " + a.size() + " " + a.elementType() + " values; it must be one "
                        + "integer or one per layer (" + layers + ")");
            }
            long max = 0;
            for (int i = 0; i < a.size(); i++) {
                long x = a.getLong(i);
                if (x < 0 || x > 1 << 20) {
                    throw fail(key + "[" + i + "] is " + x + "; it must be between 0 and " + (1 << 20));
                }
                max = Math.max(max, x);
            }
            if (max == 0) {
                throw fail(key + " is 0 for every layer");
            }
            return -1; // per-layer values: the divisibility checks need the scalar form
        }
        return required ? required(key, 1, 1 << 20) : optional(key, 1, 1 << 20);
    }

    private void epsilon(String key, boolean required) throws GgufException {
        Object v = file.metadata().get(key);
        if (v == null) {
            if (required) {
                throw fail(key + " is missing; the " + arch + " architecture needs it");
            }
            return;
        }
        double e = file.number(key).orElseThrow(() -> fail(key + " is " + describe(v) + ", not a number"));
        if (!(e > 0 && e < 1)) {
            String shown = file.valueType(key).orElseThrow() == GgufValueType.FLOAT32 ? Float.toString((float) e)
                    : Double.toString(e);
            throw fail(key + " is " + shown + "; a normalisation epsilon must be a small positive number such as 1e-5");
        }
    }

    private GgufArray stringArray(String key, boolean required) throws GgufException {
        Object v = file.metadata().get(key);
        if (v == null) {
            if (required) {
                throw fail(key + " is missing");
            }
            return null;
        }
        if (!(v instanceof GgufArray a) || a.elementType() != GgufValueType.STRING) {
            throw fail(key + " is " + describe(v) + ", not an array of strings");
        }
        return a;
    }

    private static String describe(Object v) {
        return v instanceof GgufArray a ? "an array of " + a.elementType() : "a " + v.getClass().getSimpleName()
                .toLowerCase(Locale.ROOT);
    }

    private static List<String> sorted(Set<String> s) {
        return s.stream().sorted().toList();
    }

    /** Text from the file, cut short: a corrupt file can hold megabyte-long strings. */
    static String clip(String s) {
        String t = s.replace('\0', '?');
        return t.length() <= 64 ? t : t.substring(0, 64) + "… (" + t.length() + " characters)";
    }

    private GgufException fail(String what) {
        return new GgufException(file.path(), -1, what, GgufParser.FIX_CORRUPT);
    }
}
