package io.loadstone.engine.tensor;

import static io.loadstone.engine.kernel.Vectors.F;
import static io.loadstone.engine.kernel.Vectors.H;
import static io.loadstone.engine.kernel.Vectors.I;
import static io.loadstone.engine.kernel.Vectors.LANES;
import static io.loadstone.engine.kernel.Vectors.LE;

import io.loadstone.engine.LinearWeights;
import io.loadstone.engine.kernel.Vectors;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Group-quantized integer weights ({@code W[o][i] = scale[g][o] · (q[i][o] − zero[g][o])}, g the
 * group of input i), the engine's own packed layout for GPTQ and AWQ (and any other format of
 * that shape): 2, 4 or 8 bits per weight stay packed in memory and the kernels compute on the
 * packed integers.
 *
 * <p>Layout, chosen for the Vector API: outputs are split into <em>tiles</em> of one vector
 * ({@link Vectors#LANES} outputs). Within a tile, a 32-bit word per output holds {@code 32/bits}
 * consecutive inputs (GPTQ's packing direction), and the words of all inputs follow each other,
 * so one tile is one contiguous stream and one vector load yields {@code 32/bits} weights for
 * every output of the tile — no widening from bytes, no gathers. Inputs are stored in group
 * order (act-order checkpoints are regrouped once at load; the kernels gather {@code x} through
 * the same permutation), each group padded to whole words.
 *
 * <p>The products are factored per group: {@code y[o] = Σ_g s[g][o] · (Σ_{i∈g} q·x − z[g][o]·Σ_{i∈g} x)},
 * so the inner loop is an AND, an int→float conversion and an FMA per {@code LANES} weights. The
 * AND keeps each value in place ({@code q·2^(bits·j)}); the gathered {@code x} is pre-scaled by
 * the exact power of two {@code 2^(−bits·j)}, which saves the shift. The product is therefore
 * {@code scale · (q − zero)} in float32 arithmetic; GPU kernels round it to fp16 first (see the
 * engine README for the measured difference).
 */
public final class PackedIntMatrix extends Matrix implements LinearWeights {

    private static final int L = LANES;
    /** Tiles computed together for one token block before moving on (their words stay in L2). */
    private static final int CHUNK_TILES = 16;

    private final int bits;
    private final int per;
    private final int mask;
    private final int tiles;
    /** Words per output (padded inputs / per). */
    private final int words;
    private final int groups;
    /** First word of each group, and {@code words} at the end. */
    private final int[] groupWord;
    /** Input column → its slot in the regrouped, padded order. */
    private final int[] slotOf;
    /** Slot → input column, or -1 for padding. */
    private final int[] inputOf;
    /** Input column → group (for {@link #row}). */
    private final int[] groupOf;
    /** {@code 2^(−bits·j)} for slot {@code j} of a word (1 for the last, which is shifted instead). */
    private final float[] slotScale;
    private final MemorySegment packed;
    private final MemorySegment scales;
    private final MemorySegment zeros;
    private final float zeroBase;
    private final float[] bias;
    private final String type;

    private PackedIntMatrix(String name, String type, int rows, int cols, int bits, int groups, int[] groupWord, int[] slotOf,
            int[] inputOf, int[] groupOf, MemorySegment packed, MemorySegment scales, MemorySegment zeros, float zeroBase,
            float[] bias) {
        super(name, rows, cols);
        this.type = type;
        this.bits = bits;
        this.per = 32 / bits;
        this.mask = (1 << bits) - 1;
        this.tiles = (rows + L - 1) / L;
        this.groups = groups;
        this.groupWord = groupWord;
        this.words = groupWord[groups];
        this.slotOf = slotOf;
        this.inputOf = inputOf;
        this.groupOf = groupOf;
        this.packed = packed;
        this.scales = scales;
        this.zeros = zeros;
        this.zeroBase = zeroBase;
        this.bias = bias;
        this.slotScale = new float[per];
        for (int j = 0; j < per; j++) {
            slotScale[j] = j == per - 1 ? 1f : Math.scalb(1f, -bits * j);
        }
    }

    /**
     * The weights of one linear layer as a format read them, before packing.
     *
     * @param rows    output features
     * @param cols    input features
     * @param bits    2, 4 or 8 (3-bit formats pass 4: their values fit)
     * @param q       the unsigned values of one output row at a time, each below {@code 2^bits}
     *                (read row by row, so no unpacked copy of the matrix is ever held)
     * @param groupOf group of each input column
     * @param groups  number of groups
     * @param scales  fp16 bits, {@code scales[g * rows + o]}
     * @param zeros   true zero points (already corrected for a format's offset), {@code zeros[g * rows + o]}
     * @param bias    added to every output, or null
     */
    public record Unpacked(String name, String type, int rows, int cols, int bits, RowSource q, int[] groupOf, int groups,
            short[] scales, int[] zeros, float[] bias) {
    }

    /** Writes the values {@code q[o][0..cols)} of output row {@code o} into {@code dst}. */
    @FunctionalInterface
    public interface RowSource {
        void row(int o, byte[] dst);
    }

    public static PackedIntMatrix pack(Unpacked u) {
        int bits = u.bits();
        if (bits != 2 && bits != 4 && bits != 8) {
            throw new IllegalArgumentException("packed weights are 2, 4 or 8 bits, not " + bits);
        }
        int per = 32 / bits;
        int rows = u.rows();
        int cols = u.cols();
        int groups = u.groups();
        // Regroup: stable order of inputs by group, each group padded to whole words.
        int[] count = new int[groups];
        for (int i = 0; i < cols; i++) {
            count[u.groupOf()[i]]++;
        }
        int[] groupWord = new int[groups + 1];
        for (int g = 0; g < groups; g++) {
            groupWord[g + 1] = groupWord[g] + (count[g] + per - 1) / per;
        }
        int words = groupWord[groups];
        int[] next = new int[groups];
        for (int g = 0; g < groups; g++) {
            next[g] = groupWord[g] * per;
        }
        int[] slotOf = new int[cols];
        int[] inputOf = new int[words * per];
        Arrays.fill(inputOf, -1);
        for (int i = 0; i < cols; i++) {
            int s = next[u.groupOf()[i]]++;
            slotOf[i] = s;
            inputOf[s] = i;
        }
        int minZero = Integer.MAX_VALUE;
        int maxZero = Integer.MIN_VALUE;
        for (int z : u.zeros()) {
            minZero = Math.min(minZero, z);
            maxZero = Math.max(maxZero, z);
        }
        int zeroBase = Math.max(0, maxZero - 255);
        if (minZero < zeroBase) {
            throw new IllegalArgumentException(u.name() + ": zero points span " + minZero + ".." + maxZero + ", more than 8 bits");
        }
        int tiles = (rows + L - 1) / L;
        Arena arena = Arena.ofAuto();
        MemorySegment packed = arena.allocate((long) tiles * words * L * 4, 64);
        MemorySegment scales = arena.allocate((long) tiles * groups * L * 2, 64);
        MemorySegment zeros = arena.allocate((long) tiles * groups * L, 64);
        byte[] q = new byte[cols];
        for (int o = 0; o < rows; o++) {
            int tile = o / L;
            int lane = o % L;
            u.q().row(o, q);
            for (int w = 0; w < words; w++) {
                int word = 0;
                for (int j = 0; j < per; j++) {
                    int i = inputOf[w * per + j];
                    if (i >= 0) {
                        word |= (q[i] & 0xff) << (bits * j);
                    }
                }
                packed.set(ValueLayout.JAVA_INT_UNALIGNED, (((long) tile * words + w) * L + lane) * 4, word);
            }
            for (int g = 0; g < groups; g++) {
                long at = ((long) tile * groups + g) * L + lane;
                scales.set(ValueLayout.JAVA_SHORT_UNALIGNED, at * 2, u.scales()[g * rows + o]);
                zeros.set(ValueLayout.JAVA_BYTE, at, (byte) (u.zeros()[g * rows + o] - zeroBase));
            }
        }
        return new PackedIntMatrix(u.name(), u.type(), rows, cols, bits, groups, groupWord, slotOf, inputOf, u.groupOf().clone(),
                packed, scales, zeros, zeroBase, u.bias());
    }

    @Override
    public String type() {
        return type;
    }

    public int bits() {
        return bits;
    }

    @Override
    public long byteSize() {
        return packed.byteSize() + scales.byteSize() + zeros.byteSize();
    }

    // ------------------------------------------------------------------ scalar access

    private int value(int o, int slot) {
        int word = packed.get(ValueLayout.JAVA_INT_UNALIGNED, (((long) (o / L) * words + slot / per) * L + o % L) * 4);
        return (word >>> (bits * (slot % per))) & mask;
    }

    private float scale(int o, int g) {
        return Float.float16ToFloat(scales.get(ValueLayout.JAVA_SHORT_UNALIGNED, (((long) (o / L) * groups + g) * L + o % L) * 2));
    }

    private float zero(int o, int g) {
        return (zeros.get(ValueLayout.JAVA_BYTE, ((long) (o / L) * groups + g) * L + o % L) & 0xff) + zeroBase;
    }

    @Override
    public void row(int r, float[] dst, int off) {
        for (int i = 0; i < cols; i++) {
            int g = groupOf[i];
            dst[off + i] = scale(r, g) * (value(r, slotOf[i]) - zero(r, g));
        }
    }

    @Override
    public float dot(int r, float[] x, int xo) {
        // Only for callers outside the engine's products (which use multiply): widen the row.
        float[] w = new float[cols];
        row(r, w, 0);
        return io.loadstone.engine.kernel.Ops.dot(w, 0, x, xo, cols);
    }

    // ------------------------------------------------------------------ products

    @Override
    public void multiply(float[] x, int xs, int n, float[] out, int os, int r0, int r1) {
        multiply(x, 0, xs, n, out, os, r0, r1);
    }

    private void multiply(float[] x, int x0, int xs, int n, float[] out, int os, int r0, int r1) {
        if (r0 >= r1) {
            return;
        }
        int slots = words * per;
        float[] xp = new float[n * slots];
        float[] sums = new float[n * groups];
        gather(x, x0, xs, n, xp, slots, sums);
        float[] res = new float[4 * L];
        int t0 = r0 / L;
        int t1 = (r1 + L - 1) / L;
        for (int c0 = t0; c0 < t1; c0 += CHUNK_TILES) {
            int c1 = Math.min(t1, c0 + CHUNK_TILES);
            int t = 0;
            for (; t + 4 <= n; t += 4) {
                for (int tile = c0; tile < c1; tile++) {
                    tileAnyx4(tile, xp, t * slots, slots, sums, t * groups, res);
                    store(tile, res, 4, out, t, os, r0, r1);
                }
            }
            for (; t < n; t++) {
                for (int tile = c0; tile < c1; tile++) {
                    if (bits == 4) {
                        tile4x1(tile, xp, t * slots, sums, t * groups, res);
                    } else {
                        tileAnyx1(tile, xp, t * slots, sums, t * groups, res);
                    }
                    store(tile, res, 1, out, t, os, r0, r1);
                }
            }
        }
    }

    /** {@code x} of each token in slot order, pre-scaled per slot, zero in padding; and each group's plain sum. */
    private void gather(float[] x, int x0, int xs, int n, float[] xp, int slots, float[] sums) {
        for (int t = 0; t < n; t++) {
            int xo = x0 + t * xs;
            int po = t * slots;
            for (int g = 0; g < groups; g++) {
                float s = 0;
                for (int slot = groupWord[g] * per, end = groupWord[g + 1] * per; slot < end; slot++) {
                    int i = inputOf[slot];
                    if (i >= 0) {
                        float v = x[xo + i];
                        s += v;
                        xp[po + slot] = v * slotScale[slot % per];
                    }
                }
                sums[t * groups + g] = s;
            }
        }
    }

    private void store(int tile, float[] res, int nt, float[] out, int t0, int os, int r0, int r1) {
        int base = tile * L;
        int lo = Math.max(r0, base);
        int hi = Math.min(Math.min(r1, base + L), rows);
        for (int t = 0; t < nt; t++) {
            int o = (t0 + t) * os;
            if (lo == base && hi == base + L && bias == null) {
                FloatVector.fromArray(F, res, t * L).intoArray(out, o + base);
            } else {
                for (int r = lo; r < hi; r++) {
                    out[o + r] = res[t * L + r - base] + (bias == null ? 0 : bias[r]);
                }
            }
        }
    }

    private FloatVector scaleVector(long at) {
        return Vectors.halfToFloat(ShortVector.fromMemorySegment(H, scales, at * 2, LE));
    }

    private FloatVector zeroVector(long at) {
        if (Vectors.B == null) {
            float[] z = new float[L];
            for (int i = 0; i < L; i++) {
                z[i] = (zeros.get(ValueLayout.JAVA_BYTE, at + i) & 0xff) + zeroBase;
            }
            return FloatVector.fromArray(F, z, 0);
        }
        IntVector z = (IntVector) ByteVector.fromMemorySegment(Vectors.B, zeros, at, LE).convertShape(VectorOperators.B2I, I, 0);
        return ((FloatVector) z.and(0xff).convertShape(VectorOperators.I2F, F, 0)).add(zeroBase);
    }

    private static FloatVector bc(float v) {
        return FloatVector.broadcast(F, v);
    }

    private static FloatVector f(IntVector v) {
        return (FloatVector) v.convertShape(VectorOperators.I2F, F, 0);
    }

    /** One tile, one token, 4-bit: eight values per word, two accumulators to hide the FMA latency. */
    private void tile4x1(int tile, float[] xp, int xo, float[] sums, int so, float[] res) {
        long wBase = (long) tile * words * L * 4;
        long gBase = (long) tile * groups * L;
        FloatVector acc = FloatVector.zero(F);
        for (int g = 0; g < groups; g++) {
            FloatVector a = FloatVector.zero(F);
            FloatVector b = FloatVector.zero(F);
            for (int k = groupWord[g], end = groupWord[g + 1]; k < end; k++) {
                IntVector w = IntVector.fromMemorySegment(I, packed, wBase + (long) k * L * 4, LE);
                int xi = xo + k * 8;
                a = f(w.and(0xF)).fma(bc(xp[xi]), a);
                b = f(w.and(0xF0)).fma(bc(xp[xi + 1]), b);
                a = f(w.and(0xF00)).fma(bc(xp[xi + 2]), a);
                b = f(w.and(0xF000)).fma(bc(xp[xi + 3]), b);
                a = f(w.and(0xF0000)).fma(bc(xp[xi + 4]), a);
                b = f(w.and(0xF00000)).fma(bc(xp[xi + 5]), b);
                a = f(w.and(0xF000000)).fma(bc(xp[xi + 6]), a);
                b = f(w.lanewise(VectorOperators.LSHR, 28)).fma(bc(xp[xi + 7]), b);
            }
            long at = gBase + (long) g * L;
            acc = scaleVector(at).fma(zeroVector(at).fma(bc(-sums[so + g]), a.add(b)), acc);
        }
        acc.intoArray(res, 0);
    }

    /** Any width (2 and 8 bits), one token. */
    private void tileAnyx1(int tile, float[] xp, int xo, float[] sums, int so, float[] res) {
        long wBase = (long) tile * words * L * 4;
        long gBase = (long) tile * groups * L;
        int last = 32 - bits;
        FloatVector acc = FloatVector.zero(F);
        for (int g = 0; g < groups; g++) {
            FloatVector a = FloatVector.zero(F);
            FloatVector b = FloatVector.zero(F);
            for (int k = groupWord[g], end = groupWord[g + 1]; k < end; k++) {
                IntVector w = IntVector.fromMemorySegment(I, packed, wBase + (long) k * L * 4, LE);
                int xi = xo + k * per;
                for (int s = 0; s < per - 1; s += 2) {
                    a = f(w.and(mask << (bits * s))).fma(bc(xp[xi + s]), a);
                    FloatVector v = s + 1 == per - 1 ? f(w.lanewise(VectorOperators.LSHR, last)) : f(w.and(mask << (bits * (s + 1))));
                    b = v.fma(bc(xp[xi + s + 1]), b);
                }
            }
            long at = gBase + (long) g * L;
            acc = scaleVector(at).fma(zeroVector(at).fma(bc(-sums[so + g]), a.add(b)), acc);
        }
        acc.intoArray(res, 0);
    }

    /** Any width, four tokens: each word widened once for the four (prompts are compute-bound, not decode-bound). */
    private void tileAnyx4(int tile, float[] xp, int xo, int slots, float[] sums, int so, float[] res) {
        long wBase = (long) tile * words * L * 4;
        long gBase = (long) tile * groups * L;
        int last = 32 - bits;
        FloatVector c0 = FloatVector.zero(F);
        FloatVector c1 = FloatVector.zero(F);
        FloatVector c2 = FloatVector.zero(F);
        FloatVector c3 = FloatVector.zero(F);
        int x1 = xo + slots;
        int x2 = x1 + slots;
        int x3 = x2 + slots;
        for (int g = 0; g < groups; g++) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            for (int k = groupWord[g], end = groupWord[g + 1]; k < end; k++) {
                IntVector w = IntVector.fromMemorySegment(I, packed, wBase + (long) k * L * 4, LE);
                int j = k * per;
                for (int s = 0; s < per; s++) {
                    FloatVector v = s == per - 1 ? f(w.lanewise(VectorOperators.LSHR, last)) : f(w.and(mask << (bits * s)));
                    a0 = v.fma(bc(xp[xo + j + s]), a0);
                    a1 = v.fma(bc(xp[x1 + j + s]), a1);
                    a2 = v.fma(bc(xp[x2 + j + s]), a2);
                    a3 = v.fma(bc(xp[x3 + j + s]), a3);
                }
            }
            long at = gBase + (long) g * L;
            FloatVector sc = scaleVector(at);
            FloatVector z = zeroVector(at);
            int sg = so + g;
            c0 = sc.fma(z.fma(bc(-sums[sg]), a0), c0);
            c1 = sc.fma(z.fma(bc(-sums[sg + groups]), a1), c1);
            c2 = sc.fma(z.fma(bc(-sums[sg + 2 * groups]), a2), c2);
            c3 = sc.fma(z.fma(bc(-sums[sg + 3 * groups]), a3), c3);
        }
        c0.intoArray(res, 0);
        c1.intoArray(res, L);
        c2.intoArray(res, 2 * L);
        c3.intoArray(res, 3 * L);
    }
}
