package io.loadstone.loader.transformers;

import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.engine.WeightQuantization;
import io.loadstone.loader.engine.EnginePlan;
import io.loadstone.loader.options.WebuiOptions;
import java.util.List;

/**
 * text-generation-webui's Transformers options (its order, {@code modules/loaders.py}), plus Loadstone's
 * {@code threads} and {@code max_seq_len}; the shared ones are mapped by {@link EnginePlan}, the
 * bitsandbytes ones here.
 */
final class TransformersOptions {

    private TransformersOptions() {
    }

    static List<OptionSpec> specs() {
        return EnginePlan.offer(WebuiOptions.CPU_MEMORY, WebuiOptions.GPU_MEMORY, WebuiOptions.LOAD_IN_8BIT,
                WebuiOptions.BF16, WebuiOptions.CPU, WebuiOptions.DISK, WebuiOptions.AUTO_DEVICES,
                WebuiOptions.LOAD_IN_4BIT, WebuiOptions.USE_DOUBLE_QUANT, WebuiOptions.QUANT_TYPE,
                WebuiOptions.COMPUTE_DTYPE, WebuiOptions.TRUST_REMOTE_CODE, WebuiOptions.NO_USE_FAST,
                WebuiOptions.USE_FLASH_ATTENTION_2, WebuiOptions.ALPHA_VALUE, WebuiOptions.ROPE_FREQ_BASE,
                WebuiOptions.COMPRESS_POS_EMB, WebuiOptions.DISABLE_EXLLAMA, WebuiOptions.THREADS,
                WebuiOptions.MAX_SEQ_LEN);
    }

    /** load_in_8bit / load_in_4bit / quant_type / bf16 / use_flash_attention_2 onto the engine. */
    static void configure(EnginePlan plan) throws ModelLoadException {
        LoaderOptions o = plan.options();
        if (o.bool(WebuiOptions.USE_FLASH_ATTENTION_2.name())) {
            // Refused rather than ignored: a user who asks for it expects its speed and memory use
            // on long contexts, which this engine cannot give them.
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "use_flash_attention_2",
                    "use_flash_attention_2 is on, but Flash Attention 2 is a CUDA kernel and "
                    + "the Java engine has one attention implementation, on the CPU.",
                    "Turn use_flash_attention_2 off to load with the engine's own attention.", null);
        }
        boolean q8 = o.bool(WebuiOptions.LOAD_IN_8BIT.name());
        boolean q4 = o.bool(WebuiOptions.LOAD_IN_4BIT.name());
        if (q8 && q4) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "load_in_4bit",
                    "load_in_8bit and load_in_4bit are both on.", "Pick one of them.", null);
        }
        boolean prequantized = !plan.folder().quant().method().isEmpty();
        if ((q8 || q4) && prequantized) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, (q8?"load_in_8bit":"load_in_4bit"),
                    plan.folder().folder() + " is already quantized ("
                    + plan.folder().quant().describe() + "); " + (q8 ? "load_in_8bit" : "load_in_4bit")
                    + " would quantize it again.", "Turn " + (q8 ? "load_in_8bit" : "load_in_4bit") + " off.", null);
        }
        if (q4) {
            if (o.text(WebuiOptions.QUANT_TYPE.name()).equals("fp4")) {
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "quant_type",
                        "quant_type fp4 is not available: the Java engine implements 4-bit "
                        + "NormalFloat (nf4) only.", "Set quant_type to nf4, or use load_in_8bit.", null);
            }
            plan.engine().quantization(WeightQuantization.NF4);
            plan.describeQuantization(WeightQuantization.NF4.toString());
        } else if (q8) {
            plan.engine().quantization(WeightQuantization.INT8);
            plan.describeQuantization(WeightQuantization.INT8.toString());
        } else if (!o.text(WebuiOptions.QUANT_TYPE.name()).equals("nf4")) {
            plan.warn("quant_type has no effect without load_in_4bit.");
        }
        if (o.bool(WebuiOptions.BF16.name())) {
            plan.engine().bf16Weights(true);
            if (q8 || q4) {
                plan.warn("bf16 applies to the embedding and norms only: the linear layers are quantized from "
                        + "the stored weights (" + (q8 ? "load_in_8bit" : "load_in_4bit") + ").");
            }
        }
    }
}
