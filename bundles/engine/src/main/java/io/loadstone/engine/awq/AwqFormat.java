package io.loadstone.engine.awq;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.engine.CheckpointTensor;
import io.loadstone.engine.LinearFormat;
import io.loadstone.engine.LinearWeights;
import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.quant.QuantizationConfig;
import io.loadstone.engine.tensor.PackedIntMatrix;
import io.loadstone.engine.tensor.QuantTensors;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * AutoAWQ checkpoints, 4-bit ({@code W[o][i] = scale · (q − zero)}, true zeros):
 * <ul>
 * <li>{@code gemm}: {@code qweight} int32 {@code [in, out/8]} packed along the <em>output</em> in
 * AutoAWQ's nibble order (output {@code 8c+k} in nibble {@code [0,4,1,5,2,6,3,7][k]}),
 * {@code qzeros} int32 {@code [in/group, out/8]} the same way, {@code scales} fp16 {@code [in/group, out]};</li>
 * <li>{@code gemv}: {@code qweight} int32 {@code [out, in/8]} packed along the input in plain order,
 * {@code qzeros} int32 {@code [out, Z]} (nibble k of word c = group 8c+k), {@code scales} fp16
 * {@code [out, 8·Z]}, Z padded as AutoAWQ's {@code calculate_zeros_width} does.</li>
 * </ul>
 * Both are repacked once at load into the engine's own 4-bit layout and run on the GPTQ kernels
 * (one kernel per layout was measured slower; see the engine README). Modules named in
 * {@code modules_to_not_convert} stay in their stored dtype.
 */
public final class AwqFormat implements LinearFormat {

    private static final String FIX = "The checkpoint is damaged or not the AWQ layout its config describes; download it again.";
    /** Nibble that holds output {@code 8c+k} in a gemm word. */
    private static final int[] GEMM_NIBBLE = {0, 4, 1, 5, 2, 6, 3, 7};

    private final int groupSize;
    private final boolean gemv;
    private final boolean zeroPoint;
    private final List<String> notConverted;
    private final String describe;

    private AwqFormat(int groupSize, boolean gemv, boolean zeroPoint, List<String> notConverted) {
        this.groupSize = groupSize;
        this.gemv = gemv;
        this.zeroPoint = zeroPoint;
        this.notConverted = notConverted;
        this.describe = "AWQ 4-bit " + (gemv ? "GEMV" : "GEMM") + " (group " + groupSize + ")";
    }

    /**
     * @throws ModelFileException bits other than 4, a group size that is not positive, or a
     *                            version other than gemm / gemv (the message names the file)
     */
    public static AwqFormat of(QuantizationConfig config) throws ModelLoadException {
        if (config.bits() != 4) {
            throw new ModelFileException(config.source(), "bits (w_bit) is " + config.averageBits() + "; AWQ checkpoints are 4-bit",
                    "Fix the bits in " + config.source().getFileName() + " or use a loader for this format.");
        }
        if (config.groupSize() < 1) {
            throw new ModelFileException(config.source(), "group_size is " + config.groupSize() + "; AWQ needs a positive group size",
                    "Fix group_size (q_group_size) in " + config.source().getFileName() + ".");
        }
        if (!config.version().equals("gemm") && !config.version().equals("gemv")) {
            throw new ModelFileException(config.source(), "version '" + config.version() + "' is not an AWQ layout the engine reads "
                    + "(gemm, gemv)", "Use the model's GEMM or GEMV export.");
        }
        return new AwqFormat(config.groupSize(), config.version().equals("gemv"), config.zeroPoint(), config.modulesToNotConvert());
    }

    @Override
    public String name() {
        return "awq";
    }

    @Override
    public LinearWeights load(String prefix, int rows, int cols, Function<String, Optional<CheckpointTensor>> tensors)
            throws ModelLoadException {
        for (String m : notConverted) {
            if (prefix.contains(m)) {
                return null; // kept in its stored dtype: the engine reads prefix.weight
            }
        }
        QuantTensors t = new QuantTensors(describe, prefix, tensors, FIX);
        CheckpointTensor qweight = t.find("qweight").orElse(null);
        if (qweight == null) {
            return null;
        }
        if (cols % groupSize != 0) {
            throw t.refuse(qweight, "belongs to a layer with " + cols + " inputs, not a multiple of the group size " + groupSize);
        }
        int groups = cols / groupSize;
        PackedIntMatrix.RowSource q;
        short[] sc = new short[groups * rows];
        int[] zeros = new int[groups * rows];
        CheckpointTensor qzeros = null;
        CheckpointTensor[] used;
        if (gemv) {
            if (cols % 8 != 0) {
                throw t.refuse(qweight, "belongs to a layer with " + cols + " inputs, not a multiple of 8");
            }
            int z = zerosWidth(cols, groupSize);
            t.check(qweight, "I32", new long[] {rows, cols / 8}, rows + " outputs, " + cols + " inputs / 8 (gemv)");
            if (zeroPoint || t.find("qzeros").isPresent()) {
                qzeros = t.need("qzeros", "I32", rows, z, rows + " outputs, " + groups + " groups padded to " + z + " words (gemv)");
            }
            CheckpointTensor scales = t.need("scales", "F16", rows, 8L * z, rows + " outputs, " + groups + " groups padded to "
                    + 8 * z + " (gemv)");
            used = new CheckpointTensor[] {qweight, qzeros, scales};
            q = (o, dst) -> {
                for (int i = 0; i < cols; i++) {
                    dst[i] = (byte) QuantTensors.rowStreamValue(qweight, cols / 8, o, i, 4);
                }
            };
            for (int o = 0; o < rows; o++) {
                for (int g = 0; g < groups; g++) {
                    sc[g * rows + o] = QuantTensors.half(scales, (long) o * 8 * z + g);
                    zeros[g * rows + o] = qzeros == null ? 8 : QuantTensors.rowStreamValue(qzeros, z, o, g, 4);
                }
            }
        } else {
            if (rows % 8 != 0) {
                throw t.refuse(qweight, "belongs to a layer with " + rows + " outputs, not a multiple of 8");
            }
            t.check(qweight, "I32", new long[] {cols, rows / 8}, cols + " inputs, " + rows + " outputs / 8 (gemm)");
            if (zeroPoint || t.find("qzeros").isPresent()) {
                qzeros = t.need("qzeros", "I32", groups, rows / 8, groups + " groups, " + rows + " outputs / 8 (gemm)");
            }
            CheckpointTensor scales = t.need("scales", "F16", groups, rows, groups + " groups, " + rows + " outputs (gemm)");
            used = new CheckpointTensor[] {qweight, qzeros, scales};
            q = (o, dst) -> {
                for (int i = 0; i < cols; i++) {
                    dst[i] = (byte) gemmNibble(qweight, rows / 8, i, o);
                }
            };
            for (int g = 0; g < groups; g++) {
                for (int o = 0; o < rows; o++) {
                    sc[g * rows + o] = QuantTensors.half(scales, (long) g * rows + o);
                    zeros[g * rows + o] = qzeros == null ? 8 : gemmNibble(qzeros, rows / 8, g, o);
                }
            }
        }
        int[] groupOf = new int[cols];
        for (int i = 0; i < cols; i++) {
            groupOf[i] = i / groupSize;
        }
        float[] bias = prefix.endsWith("q_proj") || prefix.endsWith("k_proj") || prefix.endsWith("v_proj") ? null : t.bias(rows);
        PackedIntMatrix m = PackedIntMatrix.pack(new PackedIntMatrix.Unpacked(prefix, gemv ? "AWQ-4 gemv" : "AWQ-4 gemm", rows, cols, 4, q, groupOf,
                groups, sc, zeros, bias));
        QuantTensors.release(used);
        return m;
    }

    private static int gemmNibble(CheckpointTensor t, int width, long row, int o) {
        int word = QuantTensors.int32(t, row * width + o / 8);
        return (word >>> (4 * GEMM_NIBBLE[o % 8])) & 0xF;
    }

    /** AutoAWQ's {@code calculate_zeros_width}: groups in words of 8, rounded up to 1, 2 or 4 words by group size. */
    static int zerosWidth(int cols, int groupSize) {
        int multiplier = groupSize >= 128 ? 1 : groupSize >= 64 ? 2 : 4;
        int base = (cols / groupSize + 7) / 8;
        return (base + multiplier - 1) / multiplier * multiplier;
    }

    @Override
    public String toString() {
        return describe;
    }
}
