package io.loadstone.loader.engine;

import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.engine.EngineOptions;
import io.loadstone.engine.KvCacheType;
import io.loadstone.loader.options.WebuiOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One load on the Java engine: the text-generation-webui options every engine loader shares, mapped
 * once ({@code threads}, the RoPE trio, {@code cpu_memory}, {@code max_seq_len}, {@code cfg_cache}, and
 * a warning for each option that cannot work here), then handed to the loader's
 * {@link EngineLoader#configure} for its own. Also where the engine's reasons for the options it cannot
 * honour live ({@link #offer}), so every loader words them the same.
 */
public final class EnginePlan {

    static final String MAX_SEQ_LEN = WebuiOptions.MAX_SEQ_LEN.name();

    private static final String NO_GPU = "there is no GPU backend in the Java engine; everything runs on the CPU";

    /** Why the engine cannot honour an option, by option name. */
    private static final Map<String, String> NOT_APPLICABLE = Map.ofEntries(
            Map.entry(WebuiOptions.CPU.name(), "always on: the Java engine runs on the CPU only"),
            Map.entry(WebuiOptions.GPU_MEMORY.name(), NO_GPU),
            Map.entry(WebuiOptions.AUTO_DEVICES.name(), NO_GPU),
            Map.entry(WebuiOptions.GPU_SPLIT.name(), NO_GPU),
            Map.entry(WebuiOptions.DISK.name(), "layers beyond cpu_memory always stay memory-mapped from the "
                    + "checkpoint on disk; there is no separate offload folder"),
            Map.entry(WebuiOptions.NO_USE_FAST.name(), "there is one tokenizer implementation (tokenizer.json "
                    + "through the Rust tokenizers library), the same as transformers' fast tokenizer"),
            Map.entry(WebuiOptions.TRUST_REMOTE_CODE.name(), "Loadstone never runs code from model repos; models "
                    + "that need it are refused"),
            Map.entry(WebuiOptions.TRITON.name(), "Triton kernels run on GPUs; the engine computes GPTQ layers "
                    + "with its own Vector API kernels on the packed weights"),
            Map.entry(WebuiOptions.NO_INJECT_FUSED_ATTENTION.name(), "the engine has one attention "
                    + "implementation, with nothing fused to switch off"),
            Map.entry(WebuiOptions.NO_INJECT_FUSED_MLP.name(), "the engine has one MLP implementation, with "
                    + "nothing fused to switch off"),
            Map.entry(WebuiOptions.NO_USE_CUDA_FP16.name(), "a CUDA switch; the engine computes in float32"),
            Map.entry(WebuiOptions.DISABLE_EXLLAMA.name(), "the ExLlama kernels are CUDA kernels; the engine's "
                    + "GPTQ layers use its own Vector API kernels, and LoRA works on them without switching "
                    + "anything off"),
            Map.entry(WebuiOptions.NO_FLASH_ATTN.name(), "the engine has one attention implementation, its own "
                    + "CPU attention (no flash attention), so there is nothing to switch off"),
            Map.entry(WebuiOptions.USE_DOUBLE_QUANT.name(), "the engine keeps one float32 scale per block of 64; "
                    + "scales are not quantized again"),
            Map.entry(WebuiOptions.COMPUTE_DTYPE.name(), "the Java engine always computes in float32"),
            Map.entry(WebuiOptions.USE_FLASH_ATTENTION_2.name(), "a CUDA kernel; the Java engine has its own CPU "
                    + "attention, so a load with it on is refused"));

    private final HfFolder folder;
    private final LoaderOptions options;
    private final EngineOptions.Builder engine = EngineOptions.builder();
    private final List<String> warnings = new ArrayList<>();
    private final Map<String, Object> effective;
    private Path view;
    private String cfgRefusal;
    private String budgetOption = WebuiOptions.CPU_MEMORY.name();
    private String quantization = "";

    private EnginePlan(HfFolder folder, LoaderOptions options) {
        this.folder = folder;
        this.options = options;
        this.effective = new LinkedHashMap<>(options.asMap());
    }

    /**
     * The declarations as this engine offers them: those it cannot honour carry its reason
     * ({@link OptionSpec#notApplicable}); the others are returned unchanged.
     */
    public static List<OptionSpec> offer(OptionSpec... specs) {
        List<OptionSpec> out = new ArrayList<>();
        for (OptionSpec s : specs) {
            String why = NOT_APPLICABLE.get(s.name());
            out.add(why == null || s.applies() != null ? s : s.notApplicable(why));
        }
        return List.copyOf(out);
    }

    /** The shared options applied; {@code o} holds every option of the loader (defaults filled in). */
    static EnginePlan start(HfFolder folder, List<OptionSpec> specs, LoaderOptions o) throws ModelLoadException {
        EnginePlan p = new EnginePlan(folder, o);
        p.shared(specs);
        return p;
    }

    private void shared(List<OptionSpec> specs) throws ModelLoadException {
        Map<String, Object> values = options.asMap();
        for (OptionSpec s : specs) {
            if (s.applies() != null && !s.name().equals(WebuiOptions.TRUST_REMOTE_CODE.name())
                    && !Objects.equals(String.valueOf(values.get(s.name())), String.valueOf(s.defaultValue()))) {
                warnings.add(s.name() + " has no effect: " + s.applies() + ".");
            }
        }
        if (options.bool(WebuiOptions.TRUST_REMOTE_CODE.name()) && folder.remoteCode() == null) {
            warnings.add("trust_remote_code has no effect: this model needs no code of its own, and Loadstone "
                    + "never runs code from model repos.");
        }
        if (values.containsKey(WebuiOptions.CPU.name())) {
            effective.put(WebuiOptions.CPU.name(), true);
        }
        if (values.containsKey(WebuiOptions.THREADS.name())) {
            int threads = (int) options.integer(WebuiOptions.THREADS.name());
            if (threads > 0) {
                engine.threads(threads);
            }
            effective.put(WebuiOptions.THREADS.name(),
                    (long) (threads > 0 ? threads : Runtime.getRuntime().availableProcessors()));
        }
        double compress = rope();
        if (values.containsKey(WebuiOptions.CPU_MEMORY.name())) {
            engine.memoryBudget(memoryBudget(options.text(WebuiOptions.CPU_MEMORY.name())));
        }
        long maxSeq = values.containsKey(MAX_SEQ_LEN) ? options.integer(MAX_SEQ_LEN) : 0;
        int trained = folder.maxPositionEmbeddings();
        if (maxSeq == 0) {
            long scaled = trained > 0 ? (long) (trained * compress) : LoaderOptions.DEFAULT_CONTEXT_CAP;
            maxSeq = Math.min(scaled, LoaderOptions.DEFAULT_CONTEXT_CAP);
        } else if (trained > 0 && maxSeq > trained * compress) {
            warnings.add("max_seq_len " + maxSeq + " is beyond the trained context (" + trained + " positions"
                    + (compress != 1 ? " × compress_pos_emb " + compress : "") + "): expect incoherent text past "
                    + "it unless RoPE scaling is set.");
        }
        engine.maxContext((int) maxSeq);
        if (values.containsKey(MAX_SEQ_LEN)) {
            effective.put(MAX_SEQ_LEN, maxSeq);
        }
        if (values.containsKey(WebuiOptions.CFG_CACHE.name()) && !options.bool(WebuiOptions.CFG_CACHE.name())) {
            cfgRefusal = "cfg_cache is off";
        }
        if (options.bool(WebuiOptions.CACHE_8BIT.name())) {
            cache8bit();
        }
    }

    /** alpha_value, rope_freq_base, compress_pos_emb (those the loader has); returns compress_pos_emb. */
    private double rope() throws ModelLoadException {
        Map<String, Object> values = options.asMap();
        double alpha = values.containsKey(WebuiOptions.ALPHA_VALUE.name())
                ? options.number(WebuiOptions.ALPHA_VALUE.name()) : 1;
        double base = values.containsKey(WebuiOptions.ROPE_FREQ_BASE.name())
                ? options.number(WebuiOptions.ROPE_FREQ_BASE.name()) : 0;
        double compress = values.containsKey(WebuiOptions.COMPRESS_POS_EMB.name())
                ? options.number(WebuiOptions.COMPRESS_POS_EMB.name()) : 1;
        try {
            engine.alphaValue(alpha).compressPosEmb(compress);
            if (base > 0) {
                engine.ropeFreqBase(base);
                if (alpha != 1) {
                    warnings.add("alpha_value has no effect: rope_freq_base is set and replaces the RoPE base.");
                }
            }
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, null, e.getMessage() + ".", "Change the option to a value in its range.", null);
        }
        return compress;
    }

    /** cache_8bit: the engine's 8-bit KV cache (FP8 E5M2, as exllamav2's ExLlamaV2Cache_8bit). */
    private void cache8bit() {
        engine.kvCache(KvCacheType.FP8);
    }

    /**
     * cpu_memory as text-generation-webui users write it: a number of GiB ("4", "3.5"), or with a unit
     * (GiB/GB/G, MiB/MB/M). Empty or 0 = no limit.
     */
    public static long memoryBudget(String text) throws ModelLoadException {
        String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT).replace(" ", "");
        if (t.isEmpty()) {
            return 0;
        }
        Matcher m = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)(gib|gb|g|mib|mb|m)?").matcher(t);
        if (!m.matches()) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "cpu_memory", "cpu_memory '" + text + "' is not an amount of memory.",
                    "Write a number of GiB such as 4 or 3.5GiB, or MiB such as 4096MiB; empty for no limit.", null);
        }
        double value = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "gib" : m.group(2);
        double bytes = value * (unit.startsWith("g") ? 1L << 30 : 1L << 20);
        if (bytes >= Long.MAX_VALUE) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "cpu_memory", "cpu_memory '" + text + "' is too large.", "Leave it empty for no limit.", null);
        }
        return (long) bytes;
    }

    // ---- for the loaders' configure() -------------------------------------------------------------------

    public HfFolder folder() {
        return folder;
    }

    /** Every option of the loader, defaults filled in, validated. */
    public LoaderOptions options() {
        return options;
    }

    /** The engine options being built. */
    public EngineOptions.Builder engine() {
        return engine;
    }

    /** Adds a note the model's info shows (an option with no effect, a value adjusted). */
    public void warn(String warning) {
        warnings.add(warning);
    }

    /**
     * exllama's max_seq_len: the KV cache of every generation is allocated for the whole context when the
     * model loads (with a second one for CFG when the loader offers it), so its memory is known up front.
     */
    public void preallocateCache() {
        engine.preallocateKv(true);
    }

    /** Records the value an option really had (shown with the loaded model). */
    public void effective(String option, Object value) {
        effective.put(option, value);
    }

    /** Opens this folder instead of the model's own (a {@link GptqFiles#view}, removed with the model). */
    public void openView(Path view) {
        this.view = view;
    }

    /** The option whose memory limit left layers on disk, named in the model's warnings. */
    public void budgetOption(String option) {
        this.budgetOption = option;
    }

    /** What the loader quantizes on load (e.g. "INT8"), for the model's description. */
    public void describeQuantization(String what) {
        this.quantization = what;
    }

    EngineOptions engineOptions() {
        return engine.build();
    }

    Path folderToOpen() {
        return view != null ? view : folder.folder();
    }

    Path view() {
        return view;
    }

    void discardView() {
        if (view != null) {
            GptqFiles.delete(view);
        }
    }

    List<String> warnings() {
        return warnings;
    }

    Map<String, Object> effective() {
        return effective;
    }

    String cfgRefusal() {
        return cfgRefusal;
    }

    String budgetOption() {
        return budgetOption;
    }

    String describeQuantization() {
        return quantization;
    }
}
