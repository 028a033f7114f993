package io.loadstone.loader.engine;

import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.loader.options.WebuiOptions;
import java.io.File;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import org.osgi.framework.Bundle;
import org.osgi.framework.FrameworkUtil;

/**
 * The GPTQ loaders' shared rules: {@code wbits}, {@code groupsize} and {@code desc_act} come from the
 * files when they state them (the user's values then only warn), and from the options for old folders
 * that say nothing; the checkpoint is where the loader's own lookup ({@link GptqFiles}) finds it, opened
 * through a view when the engine would not find it itself.
 */
public final class GptqCheckpoint {

    /** Bit widths the engine's GPTQ layers implement. */
    public static final Set<Integer> ENGINE_BITS = Set.of(2, 3, 4, 8);

    private GptqCheckpoint() {
    }

    /**
     * Applies the rules to {@code plan}.
     *
     * @param checkpoint  the loader's choice of weights file
     * @param defaultBits bits for an old folder when wbits is 0 (AutoGPTQ: 4), or 0 to require wbits
     * @return the bits the model is loaded with
     */
    public static int apply(EnginePlan plan, Optional<Path> checkpoint, String loader, int defaultBits)
            throws ModelLoadException {
        HfFolder f = plan.folder();
        LoaderOptions o = plan.options();
        String wbitsName = WebuiOptions.WBITS.name();
        String groupName = WebuiOptions.GROUPSIZE.name();
        String descName = WebuiOptions.DESC_ACT.name();
        int wbits = o.has(wbitsName) ? (int) o.integer(wbitsName) : 0;
        int group = o.has(groupName) ? (int) o.integer(groupName) : -1;
        boolean desc = o.has(descName) && o.bool(descName);
        if (checkpoint.isEmpty()) {
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "model", f.folder() + " has no GPTQ checkpoint the " + loader + " loader looks for "
                    + "(*.safetensors or *.pt" + (wbits > 0 ? ", e.g. " + f.folder().getFileName() + "-" + wbits
                            + "bit" + (group > 0 ? "-" + group + "g" : "") + ".safetensors" : "") + ").",
                    "Download the model's weights into the folder.", null);
        }
        int bits;
        if (f.quantized() != null) {
            bits = (int) f.quant().bits();
            int fileGroup = f.quant().groupSize();
            if (o.has(wbitsName) && wbits > 0 && wbits != bits) {
                plan.warn("wbits " + wbits + " has no effect: " + f.quantized() + " says " + bits + " bits.");
            }
            if (o.has(groupName) && group != -1 && group != fileGroup) {
                plan.warn("groupsize " + group + " has no effect: " + f.quantized() + " says " + fileGroup + ".");
            }
            if (o.has(descName) && desc && !f.quant().descAct()) {
                plan.warn("desc_act has no effect: " + f.quantized() + " says the rows are in their own order.");
            }
            group = fileGroup;
            desc = f.quant().descAct();
        } else {
            bits = wbits > 0 ? wbits : defaultBits;
            if (bits == 0) {
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "wbits", f.folder() + " says nothing about its quantization (no "
                        + "quantize_config.json, no quantization_config in config.json) and wbits is None.",
                        "Set wbits (and groupsize) to the values in the model's name or card, e.g. 4 and 128 for "
                                + "llama-13b-4bit-128g.", null);
            }
            plan.warn("no quantization config in " + f.folder().getFileName() + ": loaded as GPTQ " + bits + "-bit"
                    + (group > 0 ? " group " + group : " per column") + (desc ? " act-order" : "")
                    + " from the options (wbits, groupsize, desc_act), as text-generation-webui does.");
        }
        if (!ENGINE_BITS.contains(bits)) {
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "wbits", "GPTQ " + bits + "-bit is not available: the engine's GPTQ layers take 2, 3, "
                    + "4 or 8 bits.", "Use a 2-, 3-, 4- or 8-bit GPTQ checkpoint.", null);
        }
        for (String name : new String[] {wbitsName, groupName, descName}) {
            if (o.has(name)) {
                plan.effective(name, name.equals(wbitsName) ? (Object) (long) bits
                        : name.equals(groupName) ? (Object) (long) group : (Object) desc);
            }
        }
        Path file = checkpoint.get();
        if (!GptqFiles.engineReadsInPlace(f, file)) {
            plan.openView(GptqFiles.view(scratch(), f, file, bits, group, desc));
        }
        return bits;
    }

    /**
     * Keeps the first {@code layers} decoder layers' packed weights in memory and leaves the rest
     * memory-mapped from disk ({@code pre_layer}): a memory budget of that many layers, from their
     * shapes in config.json, with half a layer to spare so that the estimate of scales and zeros
     * never decides a layer.
     */
    public static void keepLayers(EnginePlan plan, int layers, int bits, String option) {
        com.google.gson.JsonObject c = plan.folder().config();
        long h = integer(c, "hidden_size");
        long heads = integer(c, "num_attention_heads");
        long kvHeads = c.has("num_key_value_heads") ? integer(c, "num_key_value_heads") : heads;
        long headDim = c.has("head_dim") ? integer(c, "head_dim") : heads == 0 ? 0 : h / heads;
        long inter = integer(c, "intermediate_size");
        long total = integer(c, "num_hidden_layers");
        long weights = h * heads * headDim * 2 + h * kvHeads * headDim * 2 + 3 * h * inter;
        long perLayer = weights * bits / 8;
        if (perLayer <= 0 || layers >= total) {
            plan.warn(option + " " + layers + " keeps every layer in memory" + (total > 0 ? " (the model has "
                    + total + ")" : "") + ".");
            return;
        }
        plan.engine().memoryBudget(layers * perLayer + perLayer / 2);
        plan.budgetOption(option);
    }

    private static long integer(com.google.gson.JsonObject o, String key) {
        return o.has(key) && o.get(key).isJsonPrimitive() && o.get(key).getAsJsonPrimitive().isNumber()
                ? o.get(key).getAsLong() : 0;
    }

    /**
     * The ExLlama loaders on a GPTQ folder: the weights file as exllama finds it (the last *.safetensors,
     * *.pt, *.bin), 4 bits for old folders, and any other width refused. EXL2 folders are the engine's
     * to read (its QuantFormats picks the EXL2 format).
     */
    public static void exllama(EnginePlan plan, String loader) throws ModelLoadException {
        if (!plan.folder().quant().isGptq() && plan.folder().quantized() != null) {
            return;
        }
        int bits = apply(plan, GptqFiles.autoGptq(plan.folder().folder()), loader, 4);
        if (bits != 4) {
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "model", loader + " runs 4-bit GPTQ only (its kernels unpack 4-bit words); "
                    + plan.folder().folder() + " is " + bits + "-bit.", "Load it with AutoGPTQ or GPTQ-for-LLaMa.", null);
        }
    }

    /**
     * ExLlama's and ExLlamav2's limit on GPTQ: 4-bit only (their CUDA kernels); null when {@code f} fits.
     */
    public static Detection fourBitOnly(String loader, HfFolder f) {
        if (f.quant().isGptq() && f.quant().bits() != 0 && f.quant().bits() != 4) {
            return Detection.no(loader + " runs 4-bit GPTQ only (its kernels unpack 4-bit words), and this is "
                    + f.quant().describe() + ": use AutoGPTQ or GPTQ-for-LLaMa");
        }
        return null;
    }

    /** Where views go: the calling bundle's data area in OSGi, else the temporary folder. */
    private static Path scratch() {
        Bundle b = FrameworkUtil.getBundle(GptqCheckpoint.class);
        File data = b == null ? null : b.getDataFile("gptq-views");
        return data != null ? data.toPath() : Path.of(System.getProperty("java.io.tmpdir"), "loadstone-gptq-views");
    }
}
