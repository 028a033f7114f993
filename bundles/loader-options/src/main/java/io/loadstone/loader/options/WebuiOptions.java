package io.loadstone.loader.options;

import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.OptionSpec;
import java.util.List;

/**
 * text-generation-webui's loader options ({@code modules/loaders.py}, {@code modules/ui_model_menu.py},
 * {@code modules/shared.py} at the late-2023 reference), each declared once with its name, type, range,
 * default and help. A loader offers an option by listing its declaration; a backend on which it cannot
 * work marks it with {@link OptionSpec#notApplicable(String)} and the reason, and nothing else about it
 * changes: {@code rope_freq_base} is the same decimal for every loader that has it.
 *
 * <p>Ranges are the web UI's where the backend honours all of them; a few are wider because the
 * command line allows more (e.g. {@code rope_freq_base}). Loadstone's own additions ({@link #THREADS})
 * are marked as such in their help.
 */
public final class WebuiOptions {

    private WebuiOptions() {
    }

    // ---- memory and devices (Transformers, AutoGPTQ, AutoAWQ) --------------------------------------

    public static final OptionSpec CPU_MEMORY = OptionSpec.text("cpu_memory", "", "Most memory for the "
            + "linear-layer weights, in GiB (e.g. 4 or 3.5GiB; MiB also accepted). Layers are placed in order: "
            + "within the budget they are read into memory at load; the rest stay memory-mapped from disk and are "
            + "read as tokens need them (slower, but the model runs). Empty or 0 = no limit.");

    public static final OptionSpec GPU_MEMORY = OptionSpec.text("gpu_memory", "", "Most GPU memory to use, "
            + "e.g. 10GiB (one value per GPU in text-generation-webui).");

    public static final OptionSpec CPU = OptionSpec.bool("cpu", false, "Run on the CPU even when a GPU is "
            + "available.");

    public static final OptionSpec DISK = OptionSpec.bool("disk", false, "Offload the layers that fit neither "
            + "the GPU nor cpu_memory to disk.");

    public static final OptionSpec AUTO_DEVICES = OptionSpec.bool("auto_devices", false, "Split the model "
            + "across the GPU(s) and the CPU automatically.");

    public static final OptionSpec TRUST_REMOTE_CODE = OptionSpec.bool("trust_remote_code", false, "Allow models "
            + "that ship their own Python code.");

    public static final OptionSpec NO_USE_FAST = OptionSpec.bool("no_use_fast", false, "Use the slow (Python) "
            + "tokenizer instead of the fast one.");

    // ---- Transformers' bitsandbytes and dtype options -----------------------------------------------

    public static final OptionSpec BF16 = OptionSpec.bool("bf16", false, "Load the weights as bfloat16 "
            + "(transformers' torch_dtype=bfloat16): an F32 checkpoint takes half the memory and reads half the "
            + "bytes per token; an F16 one keeps its size and loses 3 mantissa bits; a BF16 one is unchanged. "
            + "Products are computed in float32 either way.");

    public static final OptionSpec LOAD_IN_8BIT = OptionSpec.bool("load_in_8bit", false, "Quantize the linear "
            + "layers to 8-bit integers on load (one absmax scale per row): about a quarter of F32 memory, small "
            + "quality loss.");

    public static final OptionSpec LOAD_IN_4BIT = OptionSpec.bool("load_in_4bit", false, "Quantize the linear "
            + "layers to 4-bit on load (quant_type nf4, blocks of 64): about an eighth of F32 memory, noticeable "
            + "quality loss.");

    public static final OptionSpec QUANT_TYPE = OptionSpec.choice("quant_type", "nf4", List.of("nf4", "fp4"),
            "4-bit data type for load_in_4bit.");

    public static final OptionSpec USE_DOUBLE_QUANT = OptionSpec.bool("use_double_quant", false, "Quantize the "
            + "4-bit block scales too.");

    public static final OptionSpec COMPUTE_DTYPE = OptionSpec.choice("compute_dtype", "float32",
            List.of("bfloat16", "float16", "float32"), "Data type of the 4-bit matrix products.");

    public static final OptionSpec USE_FLASH_ATTENTION_2 = OptionSpec.bool("use_flash_attention_2", false,
            "Use Flash Attention 2.");

    // ---- GPTQ ------------------------------------------------------------------------------------------

    public static final OptionSpec WBITS = OptionSpec.integer("wbits", 0, 0, 8, "Bits per weight of a GPTQ "
            + "model (1, 2, 3, 4 or 8). 0 = None: taken from quantize_config.json or config.json "
            + "quantization_config, or from a name like llama-13b-4bit-128g. The files win; the value given "
            + "here counts only for old folders that say nothing.");

    public static final OptionSpec GROUPSIZE = OptionSpec.integer("groupsize", -1, -1, 1 << 20, "GPTQ group size "
            + "(32, 64, 128, 1024 …). -1 = None: one group per column, or taken from the files (or a name like "
            + "-128g) as for wbits.");

    public static final OptionSpec DESC_ACT = OptionSpec.bool("desc_act", false, "GPTQ act-order (desc_act): "
            + "rows were quantized in order of activation size and g_idx maps them to their groups. Taken from "
            + "the files when they say it.");

    public static final OptionSpec MODEL_TYPE = OptionSpec.choice("model_type", "None",
            List.of("None", "llama", "opt", "gptj"), "Architecture of an old GPTQ-for-LLaMa checkpoint. None = "
                    + "from config.json.");

    public static final OptionSpec PRE_LAYER = OptionSpec.integer("pre_layer", 0, 0, 100, "Number of layers "
            + "to keep in fast memory (text-generation-webui: on the GPU); the rest are offloaded. 0 = all.");

    public static final OptionSpec TRITON = OptionSpec.bool("triton", false, "Use AutoGPTQ's Triton kernels.");

    public static final OptionSpec NO_INJECT_FUSED_ATTENTION = OptionSpec.bool("no_inject_fused_attention", false,
            "Do not replace the attention with a fused implementation (uses less memory, slower).");

    public static final OptionSpec NO_INJECT_FUSED_MLP = OptionSpec.bool("no_inject_fused_mlp", false,
            "Do not use AutoGPTQ's fused MLP (Triton mode only).");

    public static final OptionSpec NO_USE_CUDA_FP16 = OptionSpec.bool("no_use_cuda_fp16", false,
            "Do not compute in fp16 in the CUDA kernels.");

    public static final OptionSpec DISABLE_EXLLAMA = OptionSpec.bool("disable_exllama", false, "Do not use the "
            + "ExLlama kernels for GPTQ layers (text-generation-webui: needed to train LoRAs on GPTQ models).");

    // ---- ExLlama family ---------------------------------------------------------------------------------

    public static final OptionSpec GPU_SPLIT = OptionSpec.text("gpu_split", "", "Comma-separated GB of VRAM "
            + "to use per GPU, e.g. 20,7,7.");

    public static final OptionSpec MAX_SEQ_LEN = OptionSpec.integer("max_seq_len", 0, 0, 1 << 20, "Context "
            + "length in tokens. 0 = the model's max_position_embeddings (times compress_pos_emb), at most "
            + LoaderOptions.DEFAULT_CONTEXT_CAP + ".");

    public static final OptionSpec CFG_CACHE = OptionSpec.bool("cfg_cache", false, "Create a second cache for "
            + "the negative prompt, so that classifier-free guidance (negative prompt, guidance_scale) can be "
            + "used. Doubles the cache memory; without it CFG requests are refused.");

    public static final OptionSpec NO_FLASH_ATTN = OptionSpec.bool("no_flash_attn", false, "Do not use flash "
            + "attention.");

    public static final OptionSpec CACHE_8BIT = OptionSpec.bool("cache_8bit", false, "Store the KV cache in "
            + "8 bits: half the memory of an fp16 cache (a quarter of fp32), at a cost in accuracy that grows as "
            + "heads get smaller.");

    // ---- RoPE ---------------------------------------------------------------------------------------------

    public static final OptionSpec ALPHA_VALUE = OptionSpec.number("alpha_value", 1, 1, 8, "NTK RoPE scaling "
            + "for longer contexts: about 1.75 for 1.5x the trained context, 2.5 for 2x. 1 = off. Use this or "
            + "compress_pos_emb, not both; ignored when rope_freq_base is set.");

    public static final OptionSpec ROPE_FREQ_BASE = OptionSpec.number("rope_freq_base", 0, 0, 1e9, "RoPE base "
            + "frequency. 0 = the model's own; if greater than 0 it is used instead of alpha_value.");

    public static final OptionSpec COMPRESS_POS_EMB = OptionSpec.number("compress_pos_emb", 1, 1, 32, "Linear "
            + "RoPE scaling: positions are divided by this factor. Set it to (context length) / (model's trained "
            + "context length). 1 = off.");

    // ---- Loadstone's own ----------------------------------------------------------------------------------

    public static final OptionSpec THREADS = OptionSpec.integer("threads", 0, 0, 1024, "Compute threads. "
            + "0 = one per CPU core. (Loadstone's; text-generation-webui has it for llama.cpp only.)");
}
