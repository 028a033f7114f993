package io.loadstone.llamacpp.loading;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.gguf.GgufFile;
import io.loadstone.llamacpp.CacheType;
import io.loadstone.llamacpp.ContextParams;
import io.loadstone.llamacpp.LlamaRuntime;
import io.loadstone.llamacpp.ModelParams;

/**
 * The llama.cpp loader's options, with text-generation-webui's names, order, ranges and
 * defaults ({@code modules/loaders.py}, {@code ui_model_menu.py}), and their mapping to
 * llama.cpp's model and context parameters. Shared by the loaders that run GGUF files on this
 * runtime ({@code llama.cpp}, {@code llamacpp_HF}); a loader may add its own specs to the list
 * it passes to {@link #plan}: they are validated, and those marked
 * {@link OptionSpec#notApplicable} warn when set, like these.
 */
public final class LlamaCppOptions {

    public static final String N_CTX = "n_ctx";
    public static final String N_GPU_LAYERS = "n_gpu_layers";
    public static final String TENSOR_SPLIT = "tensor_split";
    public static final String N_BATCH = "n_batch";
    public static final String THREADS = "threads";
    public static final String THREADS_BATCH = "threads_batch";
    public static final String NO_MMAP = "no_mmap";
    public static final String MLOCK = "mlock";
    public static final String NO_MUL_MAT_Q = "no_mul_mat_q";
    public static final String ALPHA_VALUE = "alpha_value";
    public static final String ROPE_FREQ_BASE = "rope_freq_base";
    public static final String COMPRESS_POS_EMB = "compress_pos_emb";
    public static final String CPU = "cpu";
    public static final String NUMA = "numa";
    public static final String SEED = "seed";
    public static final String CACHE_TYPE = "cache_type";

    /** Used when a GGUF file does not say its context length. */
    public static final int FALLBACK_CTX = 2048;

    /** llama.cpp's RoPE base when the model does not set one. */
    public static final double DEFAULT_ROPE_BASE = 10000;

    private LlamaCppOptions() {
    }

    /** The KV cache element type chosen by cache_type (null: llama.cpp's default, F16). */
    private static CacheType cacheType(LoaderOptions o) {
        return o.has(CACHE_TYPE) && o.text(CACHE_TYPE).equals("fp32") ? CacheType.F32 : null;
    }

    /** The option specs; those that cannot work with {@code rt} are marked not applicable. */
    public static List<OptionSpec> specs(LlamaRuntime rt) {
        String noGpu = "this llama.cpp build (" + rt.buildName() + ") has no GPU backend; everything runs on the CPU";
        List<OptionSpec> s = new ArrayList<>();
        s.add(OptionSpec.integer(N_CTX, 0, 0, 1 << 20, "Context length in tokens. 0 = the model's trained context "
                + "length from the GGUF file, capped at " + LoaderOptions.DEFAULT_CONTEXT_CAP + " to keep memory in check; set it "
                + "explicitly to use more. Memory for the KV cache grows with it."));
        OptionSpec gpu = OptionSpec.integer(N_GPU_LAYERS, 0, 0, 256, "Number of layers to offload to the GPU. "
                + "Set it as high as fits in VRAM; 0 = CPU only.");
        s.add(rt.supportsGpuOffload() ? gpu : gpu.notApplicable(noGpu));
        OptionSpec split = OptionSpec.text(TENSOR_SPLIT, "", "How to split the model across GPUs, as a "
                + "comma-separated list of proportions, e.g. 60,40. Empty = llama.cpp decides.");
        s.add(rt.supportsGpuOffload() ? split : split.notApplicable(noGpu));
        s.add(OptionSpec.integer(N_BATCH, 512, 1, 2048, "Maximum number of prompt tokens evaluated at once "
                + "(prompt processing batch size)."));
        s.add(OptionSpec.integer(THREADS, 0, 0, 256, "Threads for generating tokens. 0 = automatic (half the "
                + "logical CPUs, i.e. roughly the physical cores)."));
        s.add(OptionSpec.integer(THREADS_BATCH, 0, 0, 256, "Threads for prompt processing. 0 = automatic (all "
                + "logical CPUs)."));
        OptionSpec mmap = OptionSpec.bool(NO_MMAP, false, "Read the whole model into memory instead of mapping "
                + "the file. Slower to load; avoids page-ins later.");
        s.add(rt.supportsMmap() ? mmap : mmap.notApplicable("this platform cannot memory-map models; they are "
                + "always read into memory"));
        OptionSpec mlock = OptionSpec.bool(MLOCK, false, "Lock the model in RAM so the system cannot swap it out.");
        s.add(rt.supportsMlock() ? mlock : mlock.notApplicable("this platform or llama.cpp build cannot lock "
                + "memory"));
        s.add(OptionSpec.choice(CACHE_TYPE, "fp16", List.of("fp16", "fp32"), "Element type of the KV cache. fp16 "
                + "(llama.cpp's default) halves its memory; fp32 keeps logits within ~1e-5 of an F32 reference "
                + "(fp16 alone moves them by up to ~1e-2), for exact comparisons and perplexity."));
        s.add(OptionSpec.bool(NO_MUL_MAT_Q, false, "Disable the mul_mat_q CUDA kernels (llama-cpp-python 2023).")
                .notApplicable("llama.cpp removed this switch; build " + rt.buildName()
                        + " chooses its matrix kernels itself"));
        s.add(OptionSpec.number(ALPHA_VALUE, 1, 1, 8, "NTK RoPE scaling factor for longer contexts: about 1.75 "
                + "for 1.5x the trained context, 2.5 for 2x. Used only when rope_freq_base is 0: then "
                + "rope_freq_base = (model's base) * alpha_value^(64/63)."));
        s.add(OptionSpec.number(ROPE_FREQ_BASE, 0, 0, 1e9, "RoPE base frequency. 0 = the model's own; if "
                + "greater than 0 it is used instead of alpha_value."));
        s.add(OptionSpec.number(COMPRESS_POS_EMB, 1, 1, 32, "Linear RoPE scaling: positional embeddings are "
                + "compressed by this factor. Set it to (context length) / (model's trained context length). "
                + "rope_freq_scale = 1/compress_pos_emb. Use this or alpha_value, not both."));
        OptionSpec cpu = OptionSpec.bool(CPU, false, "Run on the CPU only, even when a GPU is available.");
        s.add(rt.supportsGpuOffload() ? cpu : cpu.notApplicable(noGpu + ", so there is nothing to switch off"));
        s.add(OptionSpec.bool(NUMA, false, "NUMA-aware thread and memory placement for machines with several "
                + "CPU sockets. Applies to the whole process until it restarts."));
        s.add(OptionSpec.integer(SEED, -1, -1, 0xFFFFFFFFL, "Default random seed for sampling when a request "
                + "does not give one. -1 = a new random seed each time."));
        return List.copyOf(s);
    }

    /**
     * What one load does: llama.cpp parameters, the seed default, warnings about options
     * that had no effect, and the values actually used.
     */
    public record Plan(ModelParams model, ContextParams context, boolean numa, long seed, List<String> warnings,
            Map<String, Object> effective) {
    }

    public static Plan plan(List<OptionSpec> specs, LoaderOptions given, GgufFile gguf, LlamaRuntime rt)
            throws ModelLoadException {
        // Fill in defaults and check ranges again: callers outside the core may pass unchecked values.
        LoaderOptions o = LoaderOptions.validate(specs, given.asMap());
        List<String> warnings = new ArrayList<>();
        Map<String, Object> effective = new LinkedHashMap<>(o.asMap());

        for (OptionSpec spec : specs) {
            if (spec.applies() != null && !sameValue(o.asMap().get(spec.name()), spec.defaultValue())) {
                warnings.add(spec.name() + "=" + o.asMap().get(spec.name()) + " had no effect: " + spec.applies()
                        + ".");
                effective.put(spec.name(), spec.defaultValue());
            }
        }
        boolean gpu = rt.supportsGpuOffload();

        // Context length.
        long trained = gguf.contextLength().orElse(0);
        int nCtx = (int) o.integer(N_CTX);
        if (nCtx == 0) {
            nCtx = (int) Math.min(trained > 0 ? trained : FALLBACK_CTX, LoaderOptions.DEFAULT_CONTEXT_CAP);
        }
        effective.put(N_CTX, (long) nCtx);

        // RoPE (modules/RoPE.py): rope_freq_base > 0 wins; else alpha_value scales the model's base.
        double alpha = o.number(ALPHA_VALUE);
        double base = o.number(ROPE_FREQ_BASE);
        double compress = o.number(COMPRESS_POS_EMB);
        double ropeBase;
        if (base > 0) {
            ropeBase = base;
            if (alpha > 1) {
                warnings.add("alpha_value=" + alpha + " had no effect: rope_freq_base=" + base
                        + " is set and takes precedence.");
                effective.put(ALPHA_VALUE, 1.0);
            }
        } else if (alpha > 1) {
            ropeBase = gguf.ropeFreqBase().orElse(DEFAULT_ROPE_BASE) * Math.pow(alpha, 64.0 / 63.0);
        } else {
            ropeBase = 0; // the model's own
        }
        double ropeScale = compress > 1 ? 1.0 / compress : 0; // 0 = the model's own scaling
        if (compress > 1 && alpha > 1 && base <= 0) {
            warnings.add("Both compress_pos_emb and alpha_value are set; text-generation-webui advises one or the "
                    + "other.");
        }
        effective.put(ROPE_FREQ_BASE, ropeBase > 0 ? ropeBase : gguf.ropeFreqBase().orElse(DEFAULT_ROPE_BASE));
        if (trained > 0 && nCtx > trained && compress <= 1 && alpha <= 1 && base <= 0) {
            warnings.add("n_ctx=" + nCtx + " is larger than the context the model was trained with (" + trained
                    + "); output degrades past " + trained + " tokens unless you also set compress_pos_emb (e.g. "
                    + ceilDiv(nCtx, trained) + ") or alpha_value.");
        }

        // Threads.
        ContextParams ctx = new ContextParams(nCtx, (int) o.integer(N_BATCH), 0, (int) o.integer(THREADS),
                (int) o.integer(THREADS_BATCH), (float) ropeBase, (float) ropeScale, cacheType(o), cacheType(o), false);
        effective.put(THREADS, (long) ctx.effectiveThreads());
        effective.put(THREADS_BATCH, (long) ctx.effectiveThreadsBatch());

        // Weights.
        int gpuLayers = gpu && !o.bool(CPU) ? (int) o.integer(N_GPU_LAYERS) : 0;
        if (gpu && o.bool(CPU) && o.integer(N_GPU_LAYERS) > 0) {
            warnings.add("n_gpu_layers=" + o.integer(N_GPU_LAYERS) + " had no effect: cpu is set.");
            effective.put(N_GPU_LAYERS, 0L);
        }
        List<Double> split = gpu ? parseSplit(o.text(TENSOR_SPLIT), rt) : List.of();
        boolean mmap = !rt.supportsMmap() || !o.bool(NO_MMAP);
        boolean mlock = rt.supportsMlock() && o.bool(MLOCK);
        ModelParams model = new ModelParams(gpuLayers, 0, split, mmap, mlock, false, false);

        return new Plan(model, ctx, o.bool(NUMA), o.integer(SEED), List.copyOf(warnings), effective);
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    private static boolean sameValue(Object a, Object b) {
        if (a instanceof Number x && b instanceof Number y) {
            return Double.compare(x.doubleValue(), y.doubleValue()) == 0;
        }
        return Objects.equals(a, b);
    }

    public static List<Double> parseSplit(String text, LlamaRuntime rt) throws ModelLoadException {
        String t = text.strip();
        if (t.isEmpty()) {
            return List.of();
        }
        List<Double> out = new ArrayList<>();
        for (String part : t.split(",")) {
            double d;
            try {
                d = Double.parseDouble(part.strip());
            } catch (NumberFormatException e) {
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "tensor_split",
                        "Option 'tensor_split' must be a comma-separated list of numbers such as "
                        + "60,40, not '" + text + "'.", "Write one proportion per GPU, separated by commas.", null);
            }
            if (!(d >= 0) || Double.isInfinite(d)) {
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "tensor_split",
                        "Option 'tensor_split' has a negative or invalid proportion: '" + text
                        + "'.", "Use proportions of 0 or more, e.g. 60,40.", null);
            }
            out.add(d);
        }
        if (out.size() > rt.maxDevices()) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "tensor_split",
                    "Option 'tensor_split' names " + out.size() + " GPUs, but this llama.cpp "
                    + "build handles at most " + rt.maxDevices() + ".", "Give at most " + rt.maxDevices()
                            + " proportions.", null);
        }
        return List.copyOf(out);
    }
}
