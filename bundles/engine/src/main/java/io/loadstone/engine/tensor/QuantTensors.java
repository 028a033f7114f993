package io.loadstone.engine.tensor;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.engine.CheckpointTensor;
import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.kernel.Vectors;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Optional;
import java.util.function.Function;

/**
 * The tensors of one quantized linear layer as a format reads them: looked up by name, dtype and
 * shape checked, every refusal naming the tensor, its file and what was expected.
 */
public final class QuantTensors {

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final String format;
    private final String prefix;
    private final Function<String, Optional<CheckpointTensor>> tensors;
    private final String fix;

    /**
     * @param format what the tensors should be ("GPTQ 4-bit, group 128"), for messages
     * @param fix    what the user can do about a refusal
     */
    public QuantTensors(String format, String prefix, Function<String, Optional<CheckpointTensor>> tensors, String fix) {
        this.format = format;
        this.prefix = prefix;
        this.tensors = tensors;
        this.fix = fix;
    }

    public Optional<CheckpointTensor> find(String suffix) {
        return tensors.apply(prefix + "." + suffix);
    }

    /** {@code prefix.suffix}, which must exist, have {@code dtype} and be 2-D {@code [d0, d1]}. */
    public CheckpointTensor need(String suffix, String dtype, long d0, long d1, String why) throws ModelLoadException {
        String name = prefix + "." + suffix;
        CheckpointTensor t = tensors.apply(name).orElse(null);
        if (t == null) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, name,
                    "The " + format + " layer " + prefix + " has no tensor '" + name + "'.", fix, null);
        }
        check(t, dtype, new long[] {d0, d1}, why);
        return t;
    }

    /** Fails naming the tensor and file unless it has {@code dtype} and {@code shape}. */
    public void check(CheckpointTensor t, String dtype, long[] shape, String why) throws ModelFileException {
        if (!t.dtype().equals(dtype)) {
            throw refuse(t, "has dtype " + t.dtype() + "; " + format + " stores it as " + dtype);
        }
        if (!Arrays.equals(t.shape(), shape)) {
            throw refuse(t, "has shape " + Arrays.toString(t.shape()) + " but " + format + " needs " + Arrays.toString(shape) + " (" + why
                    + ")");
        }
    }

    public ModelFileException refuse(CheckpointTensor t, String problem) {
        return new ModelFileException(t.file(), "tensor '" + t.name() + "' " + problem, fix);
    }

    public static int int32(CheckpointTensor t, long index) {
        return t.data().get(I32, 4 * index);
    }

    public static short half(CheckpointTensor t, long index) {
        return t.data().get(U16, 2 * index);
    }

    /**
     * Bits {@code [bit, bit + bits)} of the little-endian bit stream that runs down column
     * {@code col} of a 2-D int32 tensor with {@code width} columns: 32 values of {@code bits} bits
     * fill {@code bits} consecutive rows (GPTQ's packing; for 2, 4 and 8 bits each value sits in
     * one word, for 3 bits some straddle two).
     */
    public static int streamValue(CheckpointTensor t, int width, int col, long index, int bits) {
        long bit = index * bits;
        long row = bit >>> 5;
        int off = (int) (bit & 31);
        int v = int32(t, row * width + col) >>> off;
        if (off + bits > 32) {
            v |= int32(t, (row + 1) * width + col) << (32 - off);
        }
        return v & ((1 << bits) - 1);
    }

    /** Same, along a row: value {@code index} of row {@code row} of a tensor {@code width} words wide. */
    public static int rowStreamValue(CheckpointTensor t, int width, long row, long index, int bits) {
        long bit = index * bits;
        long word = bit >>> 5;
        int off = (int) (bit & 31);
        int v = int32(t, row * width + word) >>> off;
        if (off + bits > 32) {
            v |= int32(t, row * width + word + 1) << (32 - off);
        }
        return v & ((1 << bits) - 1);
    }

    /**
     * Drops this process's mapping of tensors a format has copied into its own layout: their
     * pages stay in the OS file cache but no longer count as the model's resident memory (read
     * once at load, they would otherwise double it).
     */
    public static void release(CheckpointTensor... ts) {
        for (CheckpointTensor t : ts) {
            if (t != null && t.data().isMapped()) {
                t.data().unload();
            }
        }
    }

    /** An optional 1-D float bias {@code [n]} as floats, or null. */
    public float[] bias(int n) throws ModelFileException {
        CheckpointTensor t = find("bias").orElse(null);
        if (t == null) {
            return null;
        }
        if (!Arrays.equals(t.shape(), new long[] {n})) {
            throw refuse(t, "has shape " + Arrays.toString(t.shape()) + " but the layer has " + n + " outputs");
        }
        float[] b = new float[n];
        for (int i = 0; i < n; i++) {
            b[i] = switch (t.dtype()) {
                case "F16" -> Float.float16ToFloat(half(t, i));
                case "BF16" -> Vectors.bf16ToFloat(half(t, i));
                case "F32" -> t.data().get(F32, 4L * i);
                default -> throw refuse(t, "has dtype " + t.dtype() + "; a bias is F16, BF16 or F32");
            };
        }
        return b;
    }
}
