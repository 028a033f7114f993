package io.loadstone.engine.gptq;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.engine.CheckpointTensor;
import io.loadstone.engine.LinearFormat;
import io.loadstone.engine.LinearWeights;
import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.quant.QuantizationConfig;
import io.loadstone.engine.tensor.PackedIntMatrix;
import io.loadstone.engine.tensor.QuantTensors;
import java.util.Optional;
import java.util.function.Function;

/**
 * GPTQ checkpoints: per linear layer {@code qweight} int32 {@code [in·bits/32, out]} (packed along
 * the input), {@code qzeros} int32 {@code [groups, out·bits/32]} (packed along the output),
 * {@code scales} fp16 {@code [groups, out]}, optional {@code g_idx} int32 {@code [in]} (the group of
 * each input row; act-order checkpoints permute it) and {@code bias}. With the v1 convention
 * ({@code checkpoint_format gptq}, AutoGPTQ and GPTQ-for-LLaMa) the stored zero is the true zero
 * minus one; {@code gptq_v2} (GPTQModel) stores the true zero. 3-bit values run as one bit stream
 * over three words per 32 values.
 *
 * <p>The layer is unpacked once at load and packed again into the engine's layout (groups
 * contiguous, 3-bit values in 4-bit slots): the memory stays packed.
 */
public final class GptqFormat implements LinearFormat {

    private static final String FIX = "The checkpoint is damaged or not the GPTQ layout its quantize_config.json describes; "
            + "download it again.";

    private final int bits;
    private final int groupSize;
    private final boolean v2;
    private final String describe;

    private GptqFormat(int bits, int groupSize, boolean v2) {
        this.bits = bits;
        this.groupSize = groupSize;
        this.v2 = v2;
        this.describe = "GPTQ " + bits + "-bit (group " + groupSize + (v2 ? ", gptq_v2" : "") + ")";
    }

    /**
     * The format for a folder's configuration.
     *
     * @throws ModelFileException bits other than 2, 3, 4, 8, or a checkpoint format other than
     *                            gptq / gptq_v2 (the message names the file and field)
     */
    public static GptqFormat of(QuantizationConfig config) throws ModelLoadException {
        int bits = config.bits();
        if (bits != 2 && bits != 3 && bits != 4 && bits != 8) {
            throw new ModelFileException(config.source(), "bits is " + config.averageBits() + "; GPTQ checkpoints have 2, 3, 4 or 8",
                    "Fix bits in " + config.source().getFileName() + " to the value the model was quantized with.");
        }
        String f = config.checkpointFormat();
        if (!f.equals("gptq") && !f.equals("gptq_v2")) {
            throw new ModelFileException(config.source(), "checkpoint_format '" + f + "' is not one the engine reads (gptq, gptq_v2)",
                    "Use the model's plain GPTQ export (checkpoint_format gptq), not a kernel-specific repack such as marlin.");
        }
        return new GptqFormat(bits, config.groupSize(), f.equals("gptq_v2"));
    }

    @Override
    public String name() {
        return "gptq";
    }

    @Override
    public LinearWeights load(String prefix, int rows, int cols, Function<String, Optional<CheckpointTensor>> tensors)
            throws ModelLoadException {
        QuantTensors t = new QuantTensors(describe, prefix, tensors, FIX);
        CheckpointTensor qweight = t.find("qweight").orElse(null);
        if (qweight == null) {
            return null; // a layer left unquantized: the engine reads prefix.weight
        }
        if ((long) cols * bits % 32 != 0) {
            throw t.refuse(qweight, "belongs to a layer with " + cols + " inputs, which cannot be packed at " + bits
                    + " bits (in_features × bits must be a multiple of 32)");
        }
        long packedRows = (long) cols * bits / 32;
        if (qweight.dtype().equals("I32") && qweight.shape().length == 2 && qweight.shape()[1] == rows
                && qweight.shape()[0] != packedRows) {
            long implied = qweight.shape()[0] * 32;
            throw t.refuse(qweight, "has " + qweight.shape()[0] + " packed rows for " + cols + " inputs, which is "
                    + (implied % cols == 0 ? implied / cols + " bits" : implied + "/" + cols + " bits") + " per weight, but "
                    + "the quantization config says bits " + bits);
        }
        t.check(qweight, "I32", new long[] {packedRows, rows}, cols + " inputs × " + bits + " bits / 32, " + rows + " outputs");
        if ((long) rows * bits % 32 != 0) {
            throw t.refuse(qweight, "belongs to a layer with " + rows + " outputs; qzeros cannot pack them at " + bits + " bits");
        }
        int zeroWidth = rows * bits / 32;
        CheckpointTensor qzeros = t.find("qzeros").orElse(null);
        if (qzeros == null) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, null,
                    "The " + describe + " layer " + prefix + " has qweight but no qzeros.", FIX, null);
        }
        int groups = qzeros.shape().length == 2 ? (int) Math.min(Integer.MAX_VALUE, qzeros.shape()[0]) : -1;
        int expectGroups = groupSize <= 0 ? 1 : (cols + groupSize - 1) / groupSize;
        CheckpointTensor gIdx = t.find("g_idx").orElse(null);
        if (gIdx == null && groups != expectGroups) {
            groups = expectGroups; // let check() name the expected shape
        }
        if (groups < 1) {
            groups = expectGroups;
        }
        t.check(qzeros, "I32", new long[] {groups, zeroWidth}, groups + " groups, " + rows + " outputs × " + bits + " bits / 32");
        CheckpointTensor scales = t.need("scales", "F16", groups, rows, groups + " groups × " + rows + " outputs");

        int[] groupOf = new int[cols];
        if (gIdx != null) {
            t.check(gIdx, "I32", new long[] {cols}, "one group index per input");
            boolean allZero = true;
            for (int i = 0; i < cols; i++) {
                int g = QuantTensors.int32(gIdx, i);
                if (g < 0 || g >= groups) {
                    throw t.refuse(gIdx, "maps input " + i + " to group " + g + ", outside the " + groups + " groups of qzeros/scales");
                }
                groupOf[i] = g;
                allZero &= g == 0;
            }
            // exllama treats an all-zero g_idx as absent (old exports wrote zeros there).
            if (allZero && groups > 1) {
                gIdx = null;
            }
        }
        if (gIdx == null) {
            int g = groupSize <= 0 ? cols : groupSize;
            for (int i = 0; i < cols; i++) {
                groupOf[i] = i / g;
            }
        }

        CheckpointTensor packed = qweight;
        PackedIntMatrix.RowSource q = bits == 3 ? (o, dst) -> {
            for (int i = 0; i < cols; i++) {
                dst[i] = (byte) QuantTensors.streamValue(packed, rows, o, i, bits);
            }
        } : (o, dst) -> {
            // Whole values per word (2, 4, 8 bits): read each word once.
            int per = 32 / bits;
            int mask = (1 << bits) - 1;
            for (int r = 0; r < cols / per; r++) {
                int w = QuantTensors.int32(packed, (long) r * rows + o);
                for (int j = 0; j < per; j++) {
                    dst[r * per + j] = (byte) ((w >>> (bits * j)) & mask);
                }
            }
        };
        short[] sc = new short[groups * rows];
        int[] zeros = new int[groups * rows];
        for (int g = 0; g < groups; g++) {
            for (int o = 0; o < rows; o++) {
                sc[g * rows + o] = QuantTensors.half(scales, (long) g * rows + o);
                int z = QuantTensors.rowStreamValue(qzeros, zeroWidth, g, o, bits);
                zeros[g * rows + o] = v2 ? z : z + 1; // v1 stores zero − 1 (every GPTQ kernel adds it back)
            }
        }
        float[] bias = null;
        // q/k/v biases are the engine's (attention_bias); others are added by the layer itself.
        if (!prefix.endsWith("q_proj") && !prefix.endsWith("k_proj") && !prefix.endsWith("v_proj")) {
            bias = t.bias(rows);
        }
        PackedIntMatrix m = PackedIntMatrix.pack(new PackedIntMatrix.Unpacked(prefix, "GPTQ-" + bits, rows, cols, bits == 3 ? 4 : bits, q, groupOf, groups,
                sc, zeros, bias));
        QuantTensors.release(qweight, qzeros, scales, gIdx);
        return m;
    }

    @Override
    public String toString() {
        return describe;
    }
}
