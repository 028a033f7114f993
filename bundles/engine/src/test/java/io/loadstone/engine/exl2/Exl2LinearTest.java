package io.loadstone.engine.exl2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.engine.CheckpointTensor;
import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.safetensors.SafetensorsFile;
import io.loadstone.testsupport.SafetensorsWriter;
import io.loadstone.engine.safetensors.TensorView;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * EXL2 layers written by {@link Exl2Writer} from the documented layout and read back by the
 * engine: every bit width, mixed widths in one layer, group sizes that are not powers of two,
 * a shuffled permutation, a column count that is not a multiple of the vector width; and the
 * corrupt files the format must refuse.
 */
class Exl2LinearTest {

    private static final System.Logger LOG = System.getLogger(Exl2LinearTest.class.getName());
    private static final String P = "model.layers.0.mlp.up_proj";

    @TempDir
    Path dir;

    /** Rows (outputs) 72: not a multiple of 16 or of 32, so vector tails are exercised. */
    private static final int ROWS = 72;
    private static final List<Exl2Writer.Group> ALL_WIDTHS = List.of(new Exl2Writer.Group(8, 32), new Exl2Writer.Group(6, 96),
            new Exl2Writer.Group(5, 32), new Exl2Writer.Group(4, 64), new Exl2Writer.Group(3, 32), new Exl2Writer.Group(2, 32));
    private static final int COLS = 288;

    private Function<String, Optional<CheckpointTensor>> file(List<SafetensorsWriter.Tensor> tensors, Arena arena) throws Exception {
        Path f = dir.resolve("model.safetensors");
        SafetensorsWriter.write(f, Map.of(), tensors);
        SafetensorsFile sf = SafetensorsFile.open(f, arena);
        return name -> Optional.ofNullable(sf.tensors().get(name)).map(TensorView::new);
    }

    private Exl2Linear load(Exl2Writer.Layer layer, boolean withPerm, Arena arena) throws Exception {
        return (Exl2Linear) new Exl2Format().load(P, layer.rows(), layer.cols(), file(layer.tensors(P, withPerm), arena));
    }

    @Test
    void mixedWidthsOddGroupsAndAShuffledPermutationRoundTrip() throws Exception {
        float[] w = Exl2Writer.random(ROWS, COLS, 7);
        int[] perm = Exl2Writer.shuffled(COLS, 11);
        assertNotEquals(Arrays.toString(IntStream.range(0, COLS).toArray()), Arrays.toString(perm));
        Exl2Writer.Layer layer = Exl2Writer.quantize(w, ROWS, COLS, ALL_WIDTHS, perm);
        float[] dequant = Exl2Writer.dequantize(layer);
        // Quantization error per element stays within half a step of its group's scale; the
        // 8-bit group is far closer than the 2-bit one.
        float[] worst = new float[9];
        int k = 0;
        for (Exl2Writer.Group g : ALL_WIDTHS) {
            for (int s = k; s < k + g.rows(); s++) {
                for (int o = 0; o < ROWS; o++) {
                    int i = o * COLS + perm[s];
                    worst[g.bits()] = Math.max(worst[g.bits()], Math.abs(dequant[i] - w[i]));
                }
            }
            k += g.rows();
        }
        LOG.log(System.Logger.Level.INFO, "EXL2 round trip max |Δw| per width (weights σ=0.02): 8b " + worst[8] + ", 6b " + worst[6]
                + ", 5b " + worst[5] + ", 4b " + worst[4] + ", 3b " + worst[3] + ", 2b " + worst[2]);
        for (int b : Exl2Linear.BITS) {
            // amax of σ=0.02 weights over ≤96 rows is < 0.1 (5σ); no scale exceeds the group maximum amax/(2^(b-1) - 0.5)
            float bound = 0.1f / ((1 << (b - 1)) - 0.5f) * 0.5f * 1.01f;
            assertTrue(worst[b] > 0 && worst[b] <= bound, b + " bits: " + worst[b] + " > " + bound);
        }
        assertTrue(worst[8] * 20 < worst[2]);

        try (Arena arena = Arena.ofConfined()) {
            Exl2Linear l = load(layer, true, arena);
            assertArrayEquals(new int[] {8, 6, 5, 4, 3, 2}, l.groupBits());
            float[] row = new float[COLS];
            for (int o = 0; o < ROWS; o++) {
                l.row(o, row, 0);
                assertArrayEquals(Arrays.copyOfRange(dequant, o * COLS, (o + 1) * COLS), row, "row " + o);
            }
            checkProducts(l, dequant);
        }
    }

    @Test
    void everyWidthAloneMatchesTheBitByBitReading() throws Exception {
        for (int bits : Exl2Linear.BITS) {
            int cols = 96;
            float[] w = Exl2Writer.random(ROWS, cols, bits);
            Exl2Writer.Layer layer = Exl2Writer.quantize(w, ROWS, cols, List.of(new Exl2Writer.Group(bits, cols)),
                    Exl2Writer.shuffled(cols, bits));
            assertEquals(bits, layer.bitsPerWeight(), 1e-9);
            try (Arena arena = Arena.ofConfined()) {
                checkProducts(load(layer, false, arena), Exl2Writer.dequantize(layer));
            }
        }
    }

    /** dot, one-token and batched products (also on unaligned row ranges) against W·x in double. */
    private static void checkProducts(Exl2Linear l, float[] w) {
        int rows = l.rows();
        int cols = l.cols();
        for (int n : new int[] {1, 3, 7}) {
            int xs = cols + 5;
            float[] x = Exl2Writer.random(n, xs, 100 + n);
            for (int i = 0; i < x.length; i++) {
                x[i] *= 50;
            }
            double[] ref = new double[n * rows];
            double scale = 0;
            for (int t = 0; t < n; t++) {
                for (int o = 0; o < rows; o++) {
                    double s = 0;
                    for (int c = 0; c < cols; c++) {
                        s += (double) w[o * cols + c] * x[t * xs + c];
                    }
                    ref[t * rows + o] = s;
                    scale = Math.max(scale, Math.abs(s));
                }
            }
            int os = rows + 3;
            for (int[] range : new int[][] {{0, rows}, {4, 68}, {12, 20}, {rows - 4, rows}}) {
                float[] out = new float[n * os];
                Arrays.fill(out, Float.NaN);
                l.multiply(x, xs, n, out, os, range[0], range[1]);
                for (int t = 0; t < n; t++) {
                    for (int o = 0; o < os; o++) {
                        float got = out[t * os + o];
                        if (o >= range[0] && o < range[1]) {
                            assertEquals(ref[t * rows + o], got, 1e-5 * scale, "n=" + n + " row " + o + " range " + Arrays.toString(range));
                            if (t == 0) {
                                assertEquals(ref[o], l.dot(o, x, 0), 1e-5 * scale, "dot row " + o);
                            }
                        } else {
                            assertTrue(Float.isNaN(got), "row " + o + " outside " + Arrays.toString(range) + " was written");
                        }
                    }
                }
            }
        }
    }

    @Test
    void packedLayersTakeAQuarterOfF16At4Bits() throws Exception {
        int rows = 1024;
        int cols = 1024;
        List<Exl2Writer.Group> groups = new ArrayList<>();
        for (int i = 0; i < cols / 128; i++) {
            groups.add(new Exl2Writer.Group(4, 128));
        }
        Exl2Writer.Layer layer = Exl2Writer.quantize(Exl2Writer.random(rows, cols, 1), rows, cols, groups, Exl2Writer.shuffled(cols, 2));
        try (Arena arena = Arena.ofConfined()) {
            Exl2Linear l = load(layer, false, arena);
            double ratio = l.byteSize() / (2.0 * rows * cols);
            LOG.log(System.Logger.Level.INFO, String.format("EXL2 4.0 bpw (groups of 128): %d bytes = %.4f x F16", l.byteSize(), ratio));
            // q_weight 0.25; q_scale 4 bits per 128 weights, the permutation 4 bytes per input.
            assertTrue(ratio >= 0.25 && ratio < 0.26, "ratio " + ratio);
        }
    }

    // ---------------------------------------------------------------- corrupt files

    private ModelFileException refused(Exl2Writer.Layer layer, boolean withPerm, Consumer<List<SafetensorsWriter.Tensor>> corrupt)
            throws Exception {
        List<SafetensorsWriter.Tensor> t = new ArrayList<>(layer.tensors(P, withPerm));
        corrupt.accept(t);
        try (Arena arena = Arena.ofConfined()) {
            Function<String, Optional<CheckpointTensor>> f = file(t, arena);
            return assertThrows(ModelFileException.class, () -> new Exl2Format().load(P, layer.rows(), layer.cols(), f));
        }
    }

    private static void replace(List<SafetensorsWriter.Tensor> t, String suffix, SafetensorsWriter.Tensor with) {
        t.replaceAll(x -> x.name().equals(P + suffix) ? with : x);
    }

    private static void assertNames(ModelFileException e, String tensor, String... words) {
        String m = e.getMessage();
        assertTrue(m.contains("model.safetensors") && m.contains(P + tensor), m);
        for (String w : words) {
            assertTrue(m.contains(w), "'" + w + "' missing from: " + m);
        }
        assertTrue(e.fix() != null && !e.fix().isBlank());
    }

    @Test
    void corruptLayersAreRefusedNamingTensorAndFile() throws Exception {
        int cols = 96;
        Exl2Writer.Layer layer = Exl2Writer.quantize(Exl2Writer.random(ROWS, cols, 3), ROWS, cols,
                List.of(new Exl2Writer.Group(6, 64), new Exl2Writer.Group(4, 32)), Exl2Writer.shuffled(cols, 3));
        short[] groups = layer.qgroups();

        // q_groups pointing past q_weight
        short[] past = groups.clone();
        past[3] = (short) (layer.qrows() + 2);
        assertNames(refused(layer, false, t -> replace(t, ".q_groups", groupsTensor(past))), ".q_groups", "past the end", ".q_weight");

        // bits not in {2,3,4,5,6,8}
        short[] seven = groups.clone();
        seven[0] = 7;
        assertNames(refused(layer, false, t -> replace(t, ".q_groups", groupsTensor(seven))), ".q_groups", "7 bits");

        // a q_invperm that is not a permutation
        int[] dup = layer.invperm().clone();
        dup[5] = dup[9];
        assertNames(refused(layer, false, t -> replace(t, ".q_invperm", Exl2Writer.ints(P + ".q_invperm", dup, cols))), ".q_invperm",
                "not a permutation");
        int[] outOfRange = layer.invperm().clone();
        outOfRange[0] = cols;
        assertNames(refused(layer, false, t -> replace(t, ".q_invperm", Exl2Writer.ints(P + ".q_invperm", outOfRange, cols))),
                ".q_invperm", "out of range");

        // a q_perm that is not argsort(q_invperm)
        int[] perm = layer.perm();
        int swap = perm[0];
        perm[0] = perm[1];
        perm[1] = swap;
        assertNames(refused(layer, true, t -> replace(t, ".q_perm", Exl2Writer.ints(P + ".q_perm", perm, cols))), ".q_perm", "argsort");

        // groups that describe fewer rows than the layer has
        assertNames(refused(layer, false, t -> replace(t, ".q_groups", groupsTensor(new short[] {6, 0}))), ".q_groups");
        // a missing tensor
        assertNames(refused(layer, false, t -> t.removeIf(x -> x.name().endsWith(".q_scale_max"))), ".q_scale_max", "lacks");
        // a wrong dtype
        assertNames(refused(layer, false, t -> replace(t, ".q_scale", Exl2Writer.ints(P + ".q_scale", layer.qscale(), 1,
                layer.qscale().length))), ".q_scale", "shape");
    }

    private static SafetensorsWriter.Tensor groupsTensor(short[] g) {
        return new SafetensorsWriter.Tensor(P + ".q_groups", io.loadstone.engine.safetensors.DType.I16, new long[] {g.length},
                s -> java.lang.foreign.MemorySegment.copy(g, 0, s,
                        java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0, g.length));
    }

    @Test
    void aLayerWithoutQWeightIsLeftToTheEngine() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            assertNull(new Exl2Format().load(P, 8, 32, name -> Optional.empty()));
        }
    }
}
