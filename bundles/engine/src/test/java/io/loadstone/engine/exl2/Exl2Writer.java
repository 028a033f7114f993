package io.loadstone.engine.exl2;

import io.loadstone.engine.safetensors.Checkpoint;
import io.loadstone.engine.safetensors.DType;
import io.loadstone.testsupport.SafetensorsWriter;
import io.loadstone.engine.safetensors.TensorInfo;
import io.loadstone.engine.tensor.Tensors;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;

/**
 * Writes EXL2 layers and model folders from float weights, following the layout in
 * weight-formats.md §4.3 (exllamav2 {@code adaptivegptq.py} {@code pack}, {@code pack_tensor.cu},
 * {@code compile.py}) — test data, because exllamav2 itself needs a CUDA GPU for every step.
 *
 * <p>Quantization is round-to-nearest (no calibration, no GPTQ error feedback): per group and
 * column, the scale needed to cover the column's absolute maximum; the group's {@code
 * q_scale_max} is the largest of them (rounded up to fp16), and each column takes the smallest
 * {@code (q_scale + 1)² · q_scale_max / 256} that is at least its need. The input-row order is
 * act-order-like: rows sorted by descending squared norm, so the permutation is not the identity.
 */
public final class Exl2Writer {

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A run of {@code rows} stored input rows (a multiple of 32) at {@code bits} bits. */
    public record Group(int bits, int rows) {
    }

    /** The tensors of one EXL2 layer, as exllamav2 stores them. */
    public record Layer(int rows, int cols, int[] qweight, int qrows, short[] qgroups, int[] qscale, int scaleWidth,
            short[] qscaleMax, int[] invperm) {

        /** q_perm = argsort(q_invperm). */
        public int[] perm() {
            int[] p = new int[invperm.length];
            for (int i = 0; i < invperm.length; i++) {
                p[invperm[i]] = i;
            }
            return p;
        }

        /** Bits of q_weight per weight (without scales). */
        public double bitsPerWeight() {
            return 32.0 * qweight.length / ((double) rows * cols);
        }

        public List<SafetensorsWriter.Tensor> tensors(String prefix, boolean withPerm) {
            List<SafetensorsWriter.Tensor> t = new ArrayList<>();
            t.add(ints(prefix + ".q_weight", qweight, qrows, rows));
            t.add(new SafetensorsWriter.Tensor(prefix + ".q_groups", DType.I16, new long[] {qgroups.length},
                    s -> MemorySegment.copy(qgroups, 0, s, I16, 0, qgroups.length)));
            t.add(ints(prefix + ".q_scale", qscale, qscale.length / scaleWidth, scaleWidth));
            t.add(new SafetensorsWriter.Tensor(prefix + ".q_scale_max", DType.F16, new long[] {qscaleMax.length},
                    s -> MemorySegment.copy(qscaleMax, 0, s, I16, 0, qscaleMax.length)));
            t.add(ints(prefix + ".q_invperm", invperm, invperm.length));
            if (withPerm) {
                t.add(ints(prefix + ".q_perm", perm(), invperm.length));
            }
            return t;
        }
    }

    static SafetensorsWriter.Tensor ints(String name, int[] v, long... shape) {
        return new SafetensorsWriter.Tensor(name, DType.I32, shape, s -> MemorySegment.copy(v, 0, s, I32, 0, v.length));
    }

    private Exl2Writer() {
    }

    /**
     * Quantizes {@code w[rows][cols]} (rows = outputs, cols = inputs) with the given groups (in
     * file order; their rows must add up to {@code cols}) and stored-row order {@code perm}
     * (stored row k is input {@code perm[k]}).
     */
    public static Layer quantize(float[] w, int rows, int cols, List<Group> groups, int[] perm) {
        if (groups.stream().mapToInt(Group::rows).sum() != cols || groups.stream().anyMatch(g -> g.rows() % 32 != 0)) {
            throw new IllegalArgumentException("groups " + groups + " do not cover " + cols + " rows in multiples of 32");
        }
        int qrows = groups.stream().mapToInt(g -> g.rows() / 32 * g.bits()).sum();
        int[] qweight = new int[qrows * rows];
        int scaleWidth = (rows + 7) / 8;
        int[] qscale = new int[groups.size() * scaleWidth];
        short[] qscaleMax = new short[groups.size()];
        short[] qgroups = new short[2 * groups.size()];
        int qrow = 0;
        int k0 = 0;
        for (int g = 0; g < groups.size(); g++) {
            int bits = groups.get(g).bits();
            int n = groups.get(g).rows();
            int zero = 1 << (bits - 1);
            qgroups[2 * g] = (short) bits;
            qgroups[2 * g + 1] = (short) qrow;
            float[] need = new float[rows];
            float max = 0;
            for (int o = 0; o < rows; o++) {
                float amax = 0;
                for (int k = k0; k < k0 + n; k++) {
                    amax = Math.max(amax, Math.abs(w[o * cols + perm[k]]));
                }
                need[o] = amax / (zero - 0.5f);
                max = Math.max(max, need[o]);
            }
            short max16 = Float.floatToFloat16(max);
            if (Float.float16ToFloat(max16) < max) {
                max16++;
            }
            qscaleMax[g] = max16;
            float scaleMax = Float.float16ToFloat(max16) / 256f;
            for (int o = 0; o < rows; o++) {
                int qs = 0;
                while (qs < 15 && (qs + 1) * (qs + 1) * scaleMax < need[o]) {
                    qs++;
                }
                qscale[g * scaleWidth + o / 8] |= qs << (4 * (o % 8));
                float scale = (qs + 1) * (qs + 1) * scaleMax;
                for (int s = 0; s < n; s++) {
                    float v = w[o * cols + perm[k0 + s]];
                    int q = scale == 0 ? zero : Math.clamp(Math.round(v / scale) + zero, 0, (1 << bits) - 1);
                    int bit = s * bits;
                    int at = (qrow + bit / 32) * rows + o;
                    qweight[at] |= q << (bit % 32);
                    if (bit % 32 + bits > 32) {
                        qweight[at + rows] |= q >>> (32 - bit % 32);
                    }
                }
            }
            qrow += n / 32 * bits;
            k0 += n;
        }
        int[] invperm = new int[cols];
        for (int k = 0; k < cols; k++) {
            invperm[perm[k]] = k;
        }
        return new Layer(rows, cols, qweight, qrows, qgroups, qscale, scaleWidth, qscaleMax, invperm);
    }

    /**
     * The weights {@code W[rows][cols]} a layer stands for, read bit by bit from its tensors —
     * written apart from the engine's kernels (and from {@link #quantize}'s packing) so that a
     * round trip checks one reading of the layout against another.
     */
    public static float[] dequantize(Layer l) {
        float[] w = new float[l.rows() * l.cols()];
        int[] perm = l.perm();
        int groups = l.qgroups().length / 2;
        int k = 0;
        for (int g = 0; g < groups; g++) {
            int bits = l.qgroups()[2 * g];
            int start = l.qgroups()[2 * g + 1];
            int end = g + 1 < groups ? l.qgroups()[2 * g + 3] : l.qrows();
            int n = (end - start) * 32 / bits;
            float max = Float.float16ToFloat(l.qscaleMax()[g]);
            for (int o = 0; o < l.rows(); o++) {
                int qs = ((l.qscale()[g * l.scaleWidth() + o / 8] >>> (4 * (o % 8))) & 15) + 1;
                float scale = qs * qs * (max / 256f);
                for (int s = 0; s < n; s++) {
                    int q = 0;
                    for (int b = 0; b < bits; b++) {
                        long bit = (long) s * bits + b;
                        int word = l.qweight()[(int) (start + bit / 32) * l.rows() + o];
                        q |= ((word >>> (bit % 32)) & 1) << b;
                    }
                    w[o * l.cols() + perm[k + s]] = (q - (1 << (bits - 1))) * scale;
                }
            }
            k += n;
        }
        return w;
    }

    /** Stored-row order like exllamav2's act-order: inputs by descending Σ_o w², ties by index. */
    public static int[] actOrder(float[] w, int rows, int cols) {
        double[] norm = new double[cols];
        for (int o = 0; o < rows; o++) {
            for (int i = 0; i < cols; i++) {
                norm[i] += (double) w[o * cols + i] * w[o * cols + i];
            }
        }
        return IntStream.range(0, cols).boxed()
                .sorted(Comparator.<Integer>comparingDouble(i -> -norm[i]).thenComparingInt(i -> i))
                .mapToInt(Integer::intValue).toArray();
    }

    /**
     * Groups for a layer with {@code cols} inputs at about {@code bpw} bits: one group at a
     * higher width, the middle at {@code bpw}, one at a lower width (descending, as exllamav2
     * orders them; 4 → 5/4/3, 6 → 8/6/5, 8 → 8), with sizes that are not all powers of two.
     */
    public static List<Group> mixed(int cols, int bpw) {
        int hi = switch (bpw) {
            case 2 -> 3;
            case 3 -> 4;
            case 4 -> 5;
            case 5 -> 6;
            case 6, 8 -> 8;
            default -> throw new IllegalArgumentException("bits " + bpw);
        };
        int lo = switch (bpw) {
            case 2 -> 2;
            case 3 -> 2;
            case 4 -> 3;
            case 5 -> 4;
            case 6 -> 5;
            default -> 8;
        };
        if (cols == 32) {
            return List.of(new Group(bpw, 32));
        }
        if (cols == 64) {
            return List.of(new Group(hi, 32), new Group(lo, 32));
        }
        int middle = cols - 64;
        return List.of(new Group(hi, 32), new Group(bpw, middle), new Group(lo, 32));
    }

    /**
     * Groups of 128 rows averaging exactly {@code bpw} (4 or 6) the way exllamav2's presets mix
     * widths, descending: 4 → an eighth of the groups at 5 bits, an eighth at 3, the rest 4; 6 →
     * an eighth at 8, a quarter at 5, the rest 6. {@code cols} must be a multiple of 128.
     */
    public static List<Group> preset128(int cols, int bpw) {
        int n = cols / 128;
        int hi = n / 8;
        if (cols % 128 != 0 || (bpw != 4 && bpw != 6)) {
            throw new IllegalArgumentException(cols + " rows at " + bpw + " bpw");
        }
        int lo = bpw == 4 ? hi : 2 * hi;
        List<Group> g = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int bits = i < hi ? (bpw == 4 ? 5 : 8) : i >= n - lo ? (bpw == 4 ? 3 : 5) : bpw;
            g.add(new Group(bits, 128));
        }
        return g;
    }

    /**
     * Converts a float Llama checkpoint folder ({@code src}) into an EXL2 folder ({@code dst}):
     * the seven projections of every layer as EXL2 with {@link #mixed} groups and {@link
     * #actOrder}, everything else copied bit for bit; config.json gains {@code
     * quantization_config} as exllamav2's {@code compile.py} writes it, with the measured
     * average bits per weight. Returns that average (q_weight bits over all quantized weights).
     */
    public static double convert(Path src, Path dst, int bpw) throws IOException {
        return convert(src, dst, bpw, null);
    }

    /**
     * As {@link #convert(Path, Path, int)}, and, if {@code dequantized} is not null, also a plain
     * F32 folder there whose projections are the EXL2 weights dequantized bit by bit ({@link
     * #dequantize}): the model the EXL2 folder stands for exactly, to check the engine's packed
     * kernels against its float path.
     */
    public static double convert(Path src, Path dst, int bpw, Path dequantized) throws IOException {
        Files.createDirectories(dst);
        List<SafetensorsWriter.Tensor> out = new ArrayList<>();
        List<SafetensorsWriter.Tensor> plain = new ArrayList<>();
        long bits = 0;
        long weights = 0;
        try (Arena arena = Arena.ofConfined()) {
            Checkpoint ck;
            try {
                ck = Checkpoint.open(src, arena);
            } catch (io.loadstone.engine.ModelFileException e) {
                throw new IOException(e.getMessage(), e);
            }
            Map<String, TensorInfo> sorted = new TreeMap<>(ck.tensors());
            for (TensorInfo t : sorted.values()) {
                String name = t.name();
                boolean linear = name.startsWith("model.layers.") && name.endsWith("_proj.weight");
                if (linear) {
                    int rows = Math.toIntExact(t.dim(0));
                    int cols = Math.toIntExact(t.dim(1));
                    float[] w = Tensors.toFloats(t);
                    Layer l = quantize(w, rows, cols, mixed(cols, bpw), actOrder(w, rows, cols));
                    out.addAll(l.tensors(name.substring(0, name.length() - ".weight".length()), false));
                    float[] dq = dequantize(l);
                    plain.add(new SafetensorsWriter.Tensor(name, DType.F32, t.shape(),
                            s -> MemorySegment.copy(dq, 0, s, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, dq.length)));
                    bits += 32L * l.qweight().length;
                    weights += (long) rows * cols;
                } else {
                    byte[] data = t.data().toArray(ValueLayout.JAVA_BYTE);
                    SafetensorsWriter.Tensor copy = new SafetensorsWriter.Tensor(name, t.dtype(), t.shape(),
                            s -> MemorySegment.copy(data, 0, s, ValueLayout.JAVA_BYTE, 0, data.length));
                    out.add(copy);
                    plain.add(copy);
                }
            }
        }
        SafetensorsWriter.write(dst.resolve("model.safetensors"), Map.of("format", "pt"), out);
        if (dequantized != null) {
            Files.createDirectories(dequantized);
            SafetensorsWriter.write(dequantized.resolve("model.safetensors"), Map.of("format", "pt"), plain);
            Files.copy(src.resolve("config.json"), dequantized.resolve("config.json"));
        }
        double avg = (double) bits / weights;
        String config = Files.readString(src.resolve("config.json")).stripTrailing();
        if (!config.endsWith("}")) {
            throw new IOException(src.resolve("config.json") + " is not a JSON object");
        }
        config = config.substring(0, config.length() - 1).stripTrailing() + String.format(Locale.ROOT, """
                ,
                  "quantization_config": {
                    "quant_method": "exl2",
                    "version": "loadstone-test-writer",
                    "bits": %.2f,
                    "head_bits": 16,
                    "calibration": {"rows": 0, "length": 0, "dataset": "(none: round-to-nearest)"}
                  }
                }
                """, avg);
        Files.writeString(dst.resolve("config.json"), config);
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"}) {
            if (Files.exists(src.resolve(f))) {
                Files.copy(src.resolve(f), dst.resolve(f));
            }
        }
        return avg;
    }

    /** Random weights for synthetic layers (benchmarks, round trips). */
    public static float[] random(int rows, int cols, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.02);
        }
        return w;
    }

    static int[] shuffled(int n, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        int[] p = IntStream.range(0, n).toArray();
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    static String describe(List<Group> groups) {
        return Arrays.toString(groups.stream().map(g -> g.bits() + "b×" + g.rows()).toArray());
    }
}
