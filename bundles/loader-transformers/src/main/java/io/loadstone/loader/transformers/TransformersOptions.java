package io.loadstone.loader.transformers;

import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.engine.EngineOptions;
import io.loadstone.engine.WeightQuantization;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * text-generation-webui's Transformers options, mapped onto the Java engine. Each option either
 * changes {@link EngineOptions} or is marked {@link OptionSpec#notApplicable} with the reason,
 * and setting such an option adds that reason to the model's warnings.
 */
final class TransformersOptions {

    static final String CPU = "cpu";
    static final String BF16 = "bf16";
    static final String LOAD_IN_8BIT = "load_in_8bit";
    static final String LOAD_IN_4BIT = "load_in_4bit";
    static final String QUANT_TYPE = "quant_type";
    static final String USE_DOUBLE_QUANT = "use_double_quant";
    static final String COMPUTE_DTYPE = "compute_dtype";
    static final String GPU_MEMORY = "gpu_memory";
    static final String CPU_MEMORY = "cpu_memory";
    static final String DISK = "disk";
    static final String AUTO_DEVICES = "auto_devices";
    static final String ALPHA_VALUE = "alpha_value";
    static final String ROPE_FREQ_BASE = "rope_freq_base";
    static final String COMPRESS_POS_EMB = "compress_pos_emb";
    static final String TRUST_REMOTE_CODE = "trust_remote_code";
    static final String NO_USE_FAST = "no_use_fast";
    static final String USE_FLASH_ATTENTION_2 = "use_flash_attention_2";
    static final String THREADS = "threads";
    static final String MAX_SEQ_LEN = "max_seq_len";

    /** Default context cap: a 128K-context model should not reserve 128K positions unasked. */
    static final int DEFAULT_CONTEXT_CAP = 8192;

    private TransformersOptions() {
    }

    static List<OptionSpec> specs() {
        return List.of(
                OptionSpec.bool(CPU, false, "Run on the CPU.")
                        .notApplicable("always on: the Java engine runs on the CPU only"),
                OptionSpec.bool(BF16, false, "Load the weights as bfloat16 (transformers' torch_dtype=bfloat16): an "
                        + "F32 checkpoint takes half the memory and reads half the bytes per token; an F16 one keeps "
                        + "its size and loses 3 mantissa bits; a BF16 one is unchanged. Products are computed in "
                        + "float32 either way."),
                OptionSpec.bool(LOAD_IN_8BIT, false, "Quantize the linear layers to 8-bit integers on load "
                        + "(one absmax scale per row): about a quarter of F32 memory, small quality loss."),
                OptionSpec.bool(LOAD_IN_4BIT, false, "Quantize the linear layers to 4-bit on load (quant_type "
                        + "nf4, blocks of 64): about an eighth of F32 memory, noticeable quality loss."),
                OptionSpec.choice(QUANT_TYPE, "nf4", List.of("nf4", "fp4"), "4-bit data type for load_in_4bit. "
                        + "Only nf4 is implemented by the Java engine."),
                OptionSpec.bool(USE_DOUBLE_QUANT, false, "Quantize the 4-bit block scales too.")
                        .notApplicable("the engine keeps one float32 scale per block of 64; scales are not "
                                + "quantized again"),
                OptionSpec.choice(COMPUTE_DTYPE, "float32", List.of("bfloat16", "float16", "float32"),
                        "Data type of the 4-bit matrix products.")
                        .notApplicable("the Java engine always computes in float32"),
                OptionSpec.text(GPU_MEMORY, "", "Most GPU memory to use, e.g. 10GiB.")
                        .notApplicable("there is no GPU backend in the Java engine"),
                OptionSpec.text(CPU_MEMORY, "", "Most memory for the linear-layer weights, in GiB (e.g. 4 or 3.5GiB; "
                        + "MiB also accepted). Layers are placed in order: within the budget they are quantized as "
                        + "asked or read into memory at load; the rest stay memory-mapped from disk in their stored "
                        + "type and are read as tokens need them (slower, but the model runs). Empty or 0 = no limit."),
                OptionSpec.bool(DISK, false, "Offload layers that do not fit to disk.")
                        .notApplicable("layers beyond cpu_memory always stay memory-mapped from the checkpoint on "
                                + "disk; there is no separate offload folder"),
                OptionSpec.bool(AUTO_DEVICES, false, "Split the model across GPU(s) and CPU automatically.")
                        .notApplicable("there is no GPU backend in the Java engine"),
                OptionSpec.number(ALPHA_VALUE, 1, 1, 64, "NTK RoPE scaling for longer contexts: the RoPE "
                        + "base becomes rope_theta · alpha^(d/(d-2)). 1 = off. Ignored when rope_freq_base is set."),
                OptionSpec.integer(ROPE_FREQ_BASE, 0, 0, 100_000_000, "Replaces the model's rope_theta. "
                        + "0 = the model's own."),
                OptionSpec.number(COMPRESS_POS_EMB, 1, 1, 64, "Linear RoPE scaling: positions are divided by "
                        + "this factor (set it to new context / trained context). 1 = off."),
                OptionSpec.bool(TRUST_REMOTE_CODE, false, "Allow models that ship their own Python code.")
                        .notApplicable("Loadstone never runs code from model repos; models that need it are refused"),
                OptionSpec.bool(NO_USE_FAST, false, "Use the slow (Python) tokenizer.")
                        .notApplicable("there is one tokenizer implementation (tokenizer.json through the Rust "
                                + "tokenizers library), the same as transformers' fast tokenizer"),
                OptionSpec.bool(USE_FLASH_ATTENTION_2, false, "Use Flash Attention 2.")
                        .notApplicable("a CUDA kernel; the Java engine has its own CPU attention, so a load "
                                + "with it on is refused"),
                OptionSpec.integer(THREADS, 0, 0, 1024, "Compute threads. 0 = one per CPU core."),
                OptionSpec.integer(MAX_SEQ_LEN, 0, 0, 1_048_576, "Context length in tokens. 0 = the model's "
                        + "max_position_embeddings (times compress_pos_emb), at most " + DEFAULT_CONTEXT_CAP + "."));
    }

    /**
     * How one load runs.
     *
     * @param engine    the engine options
     * @param warnings  options that were set but have no effect, and why
     * @param effective the values used
     */
    record Plan(EngineOptions engine, List<String> warnings, Map<String, Object> effective) {
    }

    /**
     * cpu_memory as text-generation-webui users write it: a number of GiB ("4", "3.5"), or with
     * a unit (GiB/GB/G, MiB/MB/M). Empty or 0 = no limit.
     */
    static long memoryBudget(String text) throws ModelLoadException {
        String t = text == null ? "" : text.trim().toLowerCase(java.util.Locale.ROOT).replace(" ", "");
        if (t.isEmpty()) {
            return 0;
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9]+(?:\\.[0-9]+)?)(gib|gb|g|mib|mb|m)?")
                .matcher(t);
        if (!m.matches()) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, CPU_MEMORY, "cpu_memory '" + text
                    + "' is not an amount of memory.", "Write a number of GiB such as 4 or 3.5GiB, or MiB such as "
                            + "4096MiB; empty for no limit.", null);
        }
        double value = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "gib" : m.group(2);
        double bytes = value * (unit.startsWith("g") ? 1L << 30 : 1L << 20);
        if (bytes >= Long.MAX_VALUE) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, CPU_MEMORY, "cpu_memory '" + text
                    + "' is too large.", "Leave it empty for no limit.", null);
        }
        return (long) bytes;
    }

    static Plan plan(List<OptionSpec> specs, LoaderOptions given, HfFolder folder) throws ModelLoadException {
        // Fill in defaults for anything the caller left out (tests pass LoaderOptions.of(...)).
        LoaderOptions o = LoaderOptions.validate(specs, given.asMap());
        if (o.bool(USE_FLASH_ATTENTION_2)) {
            // Refused rather than ignored: a user who asks for it expects its speed and memory use
            // on long contexts, which this engine cannot give them.
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, USE_FLASH_ATTENTION_2,
                    "use_flash_attention_2 is on, but Flash Attention 2 is a CUDA kernel and the Java engine has one "
                            + "attention implementation, on the CPU.",
                    "Turn use_flash_attention_2 off to load with the engine's own attention.", null);
        }
        List<String> warnings = new ArrayList<>();
        Map<String, Object> effective = new LinkedHashMap<>(o.asMap());
        for (OptionSpec s : specs) {
            if (s.applies() != null && !Objects.equals(String.valueOf(o.asMap().get(s.name())),
                    String.valueOf(s.defaultValue())) && !s.name().equals(TRUST_REMOTE_CODE)) {
                warnings.add(s.name() + " has no effect: " + s.applies() + ".");
            }
        }
        EngineOptions.Builder b = EngineOptions.builder();
        boolean q8 = o.bool(LOAD_IN_8BIT);
        boolean q4 = o.bool(LOAD_IN_4BIT);
        if (q8 && q4) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, LOAD_IN_4BIT,
                    "load_in_8bit and load_in_4bit are both on.", "Pick one of them.", null);
        }
        if (q4) {
            if (o.text(QUANT_TYPE).equals("fp4")) {
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, QUANT_TYPE, "quant_type fp4 "
                        + "is not available: the Java engine implements 4-bit NormalFloat (nf4) only.",
                        "Set quant_type to nf4, or use load_in_8bit.", null);
            }
            b.quantization(WeightQuantization.NF4);
        } else if (q8) {
            b.quantization(WeightQuantization.INT8);
        } else if (!o.text(QUANT_TYPE).equals("nf4")) {
            warnings.add("quant_type has no effect without load_in_4bit.");
        }
        if (o.bool(TRUST_REMOTE_CODE) && folder.remoteCode() == null) {
            warnings.add("trust_remote_code has no effect: this model needs no code of its own, and Loadstone "
                    + "never runs code from model repos.");
        }
        int threads = (int) o.integer(THREADS);
        if (threads > 0) {
            b.threads(threads);
        }
        effective.put(THREADS, (long) (threads > 0 ? threads : Runtime.getRuntime().availableProcessors()));
        double alpha = o.number(ALPHA_VALUE);
        long ropeBase = o.integer(ROPE_FREQ_BASE);
        double compress = o.number(COMPRESS_POS_EMB);
        try {
            b.alphaValue(alpha).compressPosEmb(compress);
            if (ropeBase > 0) {
                b.ropeFreqBase(ropeBase);
                if (alpha != 1) {
                    warnings.add("alpha_value has no effect: rope_freq_base is set and replaces the RoPE base.");
                }
            }
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, null, e.getMessage() + ".",
                    "Change the option to a value in its range.", null);
        }
        if (o.bool(BF16)) {
            b.bf16Weights(true);
            if (q8 || q4) {
                warnings.add("bf16 applies to the embedding and norms only: the linear layers are quantized from "
                        + "the stored weights (" + (q8 ? "load_in_8bit" : "load_in_4bit") + ").");
            }
        }
        long budget = memoryBudget(o.text(CPU_MEMORY));
        b.memoryBudget(budget);
        long maxSeq = o.integer(MAX_SEQ_LEN);
        int trained = folder.maxPositionEmbeddings();
        if (maxSeq == 0) {
            long scaled = trained > 0 ? (long) (trained * compress) : DEFAULT_CONTEXT_CAP;
            maxSeq = Math.min(scaled, DEFAULT_CONTEXT_CAP);
        } else if (trained > 0 && maxSeq > trained * compress) {
            warnings.add("max_seq_len " + maxSeq + " is beyond the trained context (" + trained
                    + " positions" + (compress != 1 ? " × compress_pos_emb " + compress : "")
                    + "): expect incoherent text past it unless RoPE scaling is set.");
        }
        b.maxContext((int) maxSeq);
        effective.put(MAX_SEQ_LEN, maxSeq);
        effective.put(CPU, true);
        return new Plan(b.build(), warnings, effective);
    }
}
