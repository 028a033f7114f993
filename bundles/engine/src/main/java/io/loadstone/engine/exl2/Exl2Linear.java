package io.loadstone.engine.exl2;

import io.loadstone.engine.CheckpointTensor;
import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.kernel.Vectors;
import io.loadstone.engine.LinearWeights;
import io.loadstone.engine.tensor.Matrix;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Optional;
import java.util.function.Function;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * One EXL2 linear layer, computed on the packed file data (memory-mapped, never widened as a
 * whole). Layout (weight-formats.md §4.3, from exllamav2 {@code adaptivegptq.py}, {@code
 * pack_tensor.cu}, {@code q_matrix.cu}): {@code q_weight[qrow][o]} holds, for output column
 * {@code o}, a little-endian bit stream along the stored input rows, 32 values per {@code bits}
 * words; {@code q_groups} gives each group's bit width and first packed row; the scale of group
 * {@code g} and column {@code o} is {@code (q_scale + 1)² · q_scale_max[g] / 256}; a weight is
 * {@code (q − 2^(bits−1)) · scale}; stored row {@code k} is input feature {@code q_perm[k]},
 * {@code q_perm = argsort(q_invperm)}.
 *
 * <p>Because the stream runs along input rows, consecutive output columns are consecutive
 * ints: the kernels put output columns in vector lanes (as exllamav2's CUDA kernels put them in
 * threads), decode one bit slot of {@code LANES} columns with two shifts and a mask, and
 * multiply it by one broadcast (permuted) input value. A {@link Matrix} (the engine uses it
 * directly, with its batched product) that is also the {@link LinearWeights} the format returns.
 */
final class Exl2Linear extends Matrix implements LinearWeights {

    static final int[] BITS = {2, 3, 4, 5, 6, 8};

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final VectorSpecies<Float> F = Vectors.F;
    private static final VectorSpecies<Integer> I = Vectors.I;
    private static final int LANES = Vectors.LANES;
    /** The scale-gather below assumes chunks start at multiples of 8 columns (8 nibbles per int). */
    private static final boolean VECTOR = LANES >= 8;
    /** Lane l reads scale int (o0 + l) / 8 … */
    private static final int[] SCALE_INDEX = new int[LANES];
    /** … at nibble (o0 + l) % 8. */
    private static final IntVector SCALE_SHIFT;

    static {
        int[] shift = new int[LANES];
        for (int l = 0; l < LANES; l++) {
            SCALE_INDEX[l] = l / 8;
            shift[l] = 4 * (l % 8);
        }
        SCALE_SHIFT = IntVector.fromArray(I, shift, 0);
    }

    private final MemorySegment qweight;
    /** Ints per packed row of q_weight (≥ rows: exllamav2 may pad columns). */
    private final int width;
    /** Columns that whole vectors may cover: inside q_weight's rows and q_scale's nibbles. */
    private final int vectorWidth;
    private final long stride;
    private final int[] groupBits;
    private final int[] groupQrow;
    /** First stored input row of each group, and one past the last group. */
    private final int[] groupK;
    private final int[] qscale;
    private final int scaleWidth;
    /** q_scale_max / 256 per group. */
    private final float[] scaleMax;
    /** Stored row k is input feature perm[k]. */
    private final int[] perm;

    private Exl2Linear(String prefix, int rows, int cols, MemorySegment qweight, int width, int[] groupBits, int[] groupQrow,
            int[] groupK, int[] qscale, int scaleWidth, float[] scaleMax, int[] perm) {
        super(prefix, rows, cols);
        this.qweight = qweight;
        this.width = width;
        this.stride = 4L * width;
        this.vectorWidth = Math.min(width, 8 * scaleWidth);
        this.groupBits = groupBits;
        this.groupQrow = groupQrow;
        this.groupK = groupK;
        this.qscale = qscale;
        this.scaleWidth = scaleWidth;
        this.scaleMax = scaleMax;
        this.perm = perm;
    }

    /**
     * Reads and validates the EXL2 tensors of one layer with {@code rows} outputs and {@code
     * cols} inputs.
     *
     * @throws ModelFileException a tensor is missing or inconsistent; the message names it and its file
     */
    static Exl2Linear read(String prefix, int rows, int cols, Function<String, Optional<CheckpointTensor>> tensors)
            throws ModelFileException {
        CheckpointTensor qw = need(prefix, ".q_weight", tensors, null);
        CheckpointTensor qg = need(prefix, ".q_groups", tensors, qw);
        CheckpointTensor qs = need(prefix, ".q_scale", tensors, qw);
        CheckpointTensor qm = need(prefix, ".q_scale_max", tensors, qw);
        CheckpointTensor qi = need(prefix, ".q_invperm", tensors, qw);
        Optional<CheckpointTensor> qp = tensors.apply(prefix + ".q_perm");

        check(qw, "I32", 2);
        long qrows = qw.shape()[0];
        if (qw.shape()[1] < rows) {
            throw bad(qw, "has " + qw.shape()[1] + " columns but the layer has " + rows + " outputs (config.json)");
        }
        int width = Math.toIntExact(qw.shape()[1]);

        check(qg, "I16", 1);
        if (qg.shape()[0] < 2 || qg.shape()[0] % 2 != 0) {
            throw bad(qg, "must hold (bits, first packed row) pairs, but has " + qg.shape()[0] + " values");
        }
        int groups = (int) (qg.shape()[0] / 2);
        int[] bits = new int[groups];
        int[] start = new int[groups];
        for (int g = 0; g < groups; g++) {
            int b = Short.toUnsignedInt(qg.data().getAtIndex(U16, 2L * g));
            bits[g] = b;
            start[g] = Short.toUnsignedInt(qg.data().getAtIndex(U16, 2L * g + 1));
            if (Arrays.stream(BITS).noneMatch(v -> v == b)) {
                throw bad(qg, "gives group " + g + " " + bits[g] + " bits; EXL2 groups have 2, 3, 4, 5, 6 or 8 bits");
            }
            if (start[g] >= qrows) {
                throw bad(qg, "points group " + g + " at packed row " + start[g] + ", past the end of " + qw.name() + " ("
                        + qrows + " packed rows)");
            }
            if (g == 0 ? start[g] != 0 : start[g] <= start[g - 1]) {
                throw bad(qg, "gives group " + g + " first packed row " + start[g]
                        + (g == 0 ? "; the first group starts at row 0" : ", not after group " + (g - 1) + "'s " + start[g - 1]));
            }
        }
        int[] groupK = new int[groups + 1];
        for (int g = 0; g < groups; g++) {
            long span = (g + 1 < groups ? start[g + 1] : qrows) - start[g];
            if (span % bits[g] != 0) {
                throw bad(qg, "gives group " + g + " " + span + " packed rows, not a whole number of 32-row blocks of "
                        + bits[g] + " bits");
            }
            long k = groupK[g] + span / bits[g] * 32;
            if (k > cols) {
                throw bad(qg, "describes more than the layer's " + cols + " input rows (group " + g + " ends at row " + k + ")");
            }
            groupK[g + 1] = (int) k;
        }
        if (groupK[groups] != cols) {
            throw bad(qg, "describes " + groupK[groups] + " input rows but the layer has " + cols + " (config.json)");
        }

        check(qs, "I32", 2);
        int scaleWidth = (rows + 7) / 8;
        if (qs.shape()[0] != groups || qs.shape()[1] < scaleWidth) {
            throw bad(qs, "has shape " + Arrays.toString(qs.shape()) + " but " + groups + " groups of " + rows
                    + " columns need [" + groups + ", " + scaleWidth + "]");
        }
        scaleWidth = Math.toIntExact(qs.shape()[1]);
        int[] qscale = qs.data().toArray(I32);

        if (qm.shape().length != 1 || qm.shape()[0] != groups || !(qm.dtype().equals("F16") || qm.dtype().equals("F32"))) {
            throw bad(qm, "is " + qm.dtype() + Arrays.toString(qm.shape()) + " but must be F16[" + groups + "]");
        }
        float[] scaleMax = new float[groups];
        for (int g = 0; g < groups; g++) {
            float m = qm.dtype().equals("F16") ? Float.float16ToFloat(qm.data().getAtIndex(U16, g)) : qm.data().getAtIndex(F32, g);
            if (!Float.isFinite(m)) {
                throw bad(qm, "gives group " + g + " the maximum scale " + m);
            }
            scaleMax[g] = m / 256f;
        }

        check(qi, "I32", 1);
        if (qi.shape()[0] != cols) {
            throw bad(qi, "has " + qi.shape()[0] + " entries but the layer has " + cols + " input rows");
        }
        int[] invperm = qi.data().toArray(I32);
        int[] perm = new int[cols];
        Arrays.fill(perm, -1);
        for (int i = 0; i < cols; i++) {
            int k = invperm[i];
            if (k < 0 || k >= cols || perm[k] >= 0) {
                throw bad(qi, "is not a permutation of 0.." + (cols - 1) + ": entry " + i + " is " + k
                        + (k >= 0 && k < cols ? ", already used by entry " + perm[k] : ", out of range"));
            }
            perm[k] = i;
        }
        if (qp.isPresent()) {
            CheckpointTensor p = qp.get();
            check(p, "I32", 1);
            if (p.shape()[0] != cols) {
                throw bad(p, "has " + p.shape()[0] + " entries but the layer has " + cols + " input rows");
            }
            for (int k = 0; k < cols; k++) {
                int v = p.data().getAtIndex(I32, k);
                if (v != perm[k]) {
                    throw bad(p, "disagrees with argsort(" + qi.name() + ") at " + k + " (" + v + " vs " + perm[k] + ")");
                }
            }
        }
        return new Exl2Linear(prefix, rows, cols, qw.data(), width, bits, start, groupK, qscale, scaleWidth, scaleMax, perm);
    }

    private static CheckpointTensor need(String prefix, String suffix, Function<String, Optional<CheckpointTensor>> tensors,
            CheckpointTensor sibling) throws ModelFileException {
        Optional<CheckpointTensor> t = tensors.apply(prefix + suffix);
        if (t.isEmpty()) {
            throw new ModelFileException(sibling.file(), "the EXL2 layer " + prefix + " lacks the tensor " + prefix + suffix,
                    "The file is incomplete or not an EXL2 model; download or convert it again.");
        }
        return t.get();
    }

    private static void check(CheckpointTensor t, String dtype, int rank) throws ModelFileException {
        if (!t.dtype().equals(dtype) || t.shape().length != rank) {
            throw bad(t, "is " + t.dtype() + Arrays.toString(t.shape()) + " but EXL2 stores it as a " + rank + "-D " + dtype);
        }
    }

    private static ModelFileException bad(CheckpointTensor t, String problem) {
        return new ModelFileException(t.file(), "EXL2 tensor " + t.name() + " " + problem,
                "The file is corrupt or was not written by exllamav2; download or convert the model again.");
    }

    @Override
    public String type() {
        return "EXL2";
    }

    /** The bit widths of this layer's groups, in file order (for reports and tests). */
    int[] groupBits() {
        return groupBits.clone();
    }

    /** Packed bytes: q_weight as mapped, scales, per-group maxima, the permutation. */
    @Override
    public long byteSize() {
        return qweight.byteSize() + 4L * qscale.length + 4L * scaleMax.length + 4L * perm.length + 12L * groupBits.length;
    }

    @Override
    public String toString() {
        return name + " EXL2[" + rows + ", " + cols + "] bits " + Arrays.toString(groupBits);
    }

    // ---------------------------------------------------------------- scalar (one row)

    private int word(long qrow, int o) {
        return qweight.getAtIndex(I32, qrow * width + o);
    }

    /** Stored value {@code s} (0..31) of the 32-row block starting at packed row {@code qrow}, unsigned. */
    private int value(long qrow, int s, int bits, int o) {
        int p = s * bits;
        int w = p >>> 5;
        int sh = p & 31;
        long v = Integer.toUnsignedLong(word(qrow + w, o));
        if (sh + bits > 32) {
            v |= Integer.toUnsignedLong(word(qrow + w + 1, o)) << 32;
        }
        return (int) (v >>> sh) & ((1 << bits) - 1);
    }

    private float scale(int g, int o) {
        int q = (qscale[g * scaleWidth + (o >>> 3)] >>> (4 * (o & 7))) & 15;
        return (q + 1) * (q + 1) * scaleMax[g];
    }

    @Override
    public float dot(int r, float[] x, int xo) {
        return dotStored(r, permuted(x, xo, 1, 0), 0);
    }

    /** Row r times inputs already in stored order ({@code xs[xo + k]} is the input of stored row k). */
    private float dotStored(int r, float[] xs, int xo) {
        float sum = 0;
        for (int g = 0; g < groupBits.length; g++) {
            int bits = groupBits[g];
            int zero = 1 << (bits - 1);
            float acc = 0;
            for (int k = groupK[g]; k < groupK[g + 1]; k += 32) {
                long qrow = groupQrow[g] + (long) (k - groupK[g]) / 32 * bits;
                for (int s = 0; s < 32; s++) {
                    acc += (value(qrow, s, bits, r) - zero) * xs[xo + k + s];
                }
            }
            sum += acc * scale(g, r);
        }
        return sum;
    }

    @Override
    public void row(int r, float[] dst, int off) {
        for (int g = 0; g < groupBits.length; g++) {
            int bits = groupBits[g];
            int zero = 1 << (bits - 1);
            float scale = scale(g, r);
            for (int k = groupK[g]; k < groupK[g + 1]; k += 32) {
                long qrow = groupQrow[g] + (long) (k - groupK[g]) / 32 * bits;
                for (int s = 0; s < 32; s++) {
                    dst[off + perm[k + s]] = (value(qrow, s, bits, r) - zero) * scale;
                }
            }
        }
    }

    // ---------------------------------------------------------------- vector (column lanes)

    @Override
    public void multiply(float[] x, int xs, int n, float[] out, int os, int r0, int r1) {
        if (!VECTOR) {
            for (int r = r0; r < r1; r++) {
                for (int t = 0; t < n; t++) {
                    out[t * os + r] = dot(r, x, t * xs);
                }
            }
            return;
        }
        float[] xp = permuted(x, 0, n, xs);
        if (n == 1) {
            multiply1(xp, r0, r1, out);
            return;
        }
        float[] tile = new float[32 * LANES];
        float[] acc = new float[n * LANES];
        for (int o0 = r0 & ~7; o0 < r1; o0 += LANES) {
            if (o0 + LANES > vectorWidth) {
                for (int o = Math.max(o0, r0); o < r1; o++) {
                    for (int t = 0; t < n; t++) {
                        out[t * os + o] = dotStored(o, xp, t * cols);
                    }
                }
                break;
            }
            chunkN(o0, xp, n, tile, acc);
            int lo = Math.max(o0, r0);
            int hi = Math.min(o0 + LANES, r1);
            for (int t = 0; t < n; t++) {
                System.arraycopy(acc, t * LANES + lo - o0, out, t * os + lo, hi - lo);
            }
        }
    }

    /** The inputs of n tokens (token t at {@code x[xo + t·xs]}) in stored-row order: the permutation applied once per call. */
    private float[] permuted(float[] x, int xo, int n, int xs) {
        float[] xp = new float[n * cols];
        for (int t = 0; t < n; t++) {
            for (int k = 0; k < cols; k++) {
                xp[t * cols + k] = x[xo + t * xs + perm[k]];
            }
        }
        return xp;
    }

    private IntVector load(long off) {
        return IntVector.fromMemorySegment(I, qweight, off, ByteOrder.LITTLE_ENDIAN);
    }

    /** The scales of group g for columns o0 … o0+LANES−1 (o0 a multiple of 8, all inside q_scale). */
    private FloatVector scales(int g, int o0) {
        IntVector packed = IntVector.fromArray(I, qscale, g * scaleWidth + (o0 >>> 3), SCALE_INDEX, 0);
        FloatVector q = (FloatVector) packed.lanewise(VectorOperators.LSHR, SCALE_SHIFT).and(15).add(1)
                .convertShape(VectorOperators.I2F, F, 0);
        return q.mul(q).mul(scaleMax[g]);
    }

    /**
     * Bit slot s of a 32-value block as signed floats: {@code (stream >>> s·bits) & mask − zero},
     * reading the next word too where the slot straddles two (3, 5 and 6 bits).
     */
    private FloatVector slot(long off, int s, int bits) {
        int p = s * bits;
        int w = p >>> 5;
        int sh = p & 31;
        IntVector v = load(off + w * stride).lanewise(VectorOperators.LSHR, sh);
        if (sh + bits > 32) {
            v = v.or(load(off + (w + 1) * stride).lanewise(VectorOperators.LSHL, 32 - sh));
        }
        return (FloatVector) v.and((1 << bits) - 1).sub(1 << (bits - 1)).convertShape(VectorOperators.I2F, F, 0);
    }

    private static FloatVector bc(float v) {
        return FloatVector.broadcast(F, v);
    }

    /**
     * One token, rows [r0, r1): Σ over stored rows of value · x per group, then scaled. The loops
     * run block by block down the stored rows and, inside a block, along the columns, so memory
     * is read in row order (a column-first walk would touch one cache line per page, which no
     * prefetcher follows). Per group the partial sums of every column chunk wait in {@code
     * part}; four accumulators per chunk so that consecutive FMAs do not wait for each other.
     */
    private void multiply1(float[] xp, int r0, int r1, float[] out) {
        int start = r0 & ~7;
        // Whole vectors inside q_weight and q_scale; columns past the last one are done one by one.
        int chunks = Math.max(0, Math.min((r1 - start + LANES - 1) / LANES, (vectorWidth - start) / LANES));
        float[] total = new float[chunks * LANES];
        float[] part = new float[chunks * LANES];
        for (int g = 0; g < groupBits.length; g++) {
            int bits = groupBits[g];
            Arrays.fill(part, 0f);
            long rowOff = groupQrow[g] * stride + 4L * start;
            for (int k = groupK[g]; k < groupK[g + 1]; k += 32, rowOff += bits * stride) {
                for (int c = 0; c < chunks; c++) {
                    blockSlots(bits, rowOff + 4L * c * LANES, xp, k, part, c * LANES);
                }
            }
            for (int c = 0; c < chunks; c++) {
                FloatVector.fromArray(F, part, c * LANES)
                        .fma(scales(g, start + c * LANES), FloatVector.fromArray(F, total, c * LANES))
                        .intoArray(total, c * LANES);
            }
        }
        int vectorEnd = Math.min(r1, start + chunks * LANES);
        if (vectorEnd > r0) {
            System.arraycopy(total, r0 - start, out, r0, vectorEnd - r0);
        }
        for (int o = Math.max(r0, vectorEnd); o < r1; o++) {
            out[o] = dotStored(o, xp, 0);
        }
    }

    /*
     * One 32-row block of LANES columns for one token, added to part[po …]. A separate method
     * taking and returning no vectors: C2 then compiles it with its own inlining budget (in one
     * large loop nest the Vector API calls stopped being inlined and every value was boxed,
     * measured 8x slower) and nothing needs boxing across the call.
     */

    /**
     * By bit slot, for every width: a slot reads its word (an L1 hit after the first) and, where
     * it straddles two (3, 5, 6 bits), the next. Measured: a per-word variant with constant
     * shifts for 2/4/8 bits ran 10x slower here (C2 stopped intrinsifying it), so one path.
     */
    private void blockSlots(int bits, long off, float[] xp, int k, float[] part, int po) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        for (int s = 0; s < 32; s += 4) {
            a0 = slot(off, s, bits).fma(bc(xp[k + s]), a0);
            a1 = slot(off, s + 1, bits).fma(bc(xp[k + s + 1]), a1);
            a2 = slot(off, s + 2, bits).fma(bc(xp[k + s + 2]), a2);
            a3 = slot(off, s + 3, bits).fma(bc(xp[k + s + 3]), a3);
        }
        FloatVector.fromArray(F, part, po).add(a0.add(a1).add(a2.add(a3))).intoArray(part, po);
    }

    /**
     * Several tokens: each 32-row block is decoded and scaled once into {@code tile} (row s at
     * {@code s·LANES}) and then multiplied with every token, two tokens at a time with two
     * accumulators each, so decoding is amortised over the batch and FMAs overlap.
     */
    private void chunkN(int o0, float[] xp, int n, float[] tile, float[] acc) {
        Arrays.fill(acc, 0, n * LANES, 0f);
        long col = 4L * o0;
        for (int g = 0; g < groupBits.length; g++) {
            int bits = groupBits[g];
            FloatVector scale = scales(g, o0);
            long off = groupQrow[g] * stride + col;
            for (int k = groupK[g]; k < groupK[g + 1]; k += 32, off += bits * stride) {
                for (int s = 0; s < 32; s++) {
                    slot(off, s, bits).mul(scale).intoArray(tile, s * LANES);
                }
                int t = 0;
                for (; t + 2 <= n; t += 2) {
                    int x0 = t * cols + k;
                    int x1 = x0 + cols;
                    FloatVector a0 = FloatVector.zero(F);
                    FloatVector a1 = a0;
                    FloatVector b0 = a0;
                    FloatVector b1 = a0;
                    for (int s = 0; s < 32; s += 2) {
                        FloatVector w0 = FloatVector.fromArray(F, tile, s * LANES);
                        FloatVector w1 = FloatVector.fromArray(F, tile, (s + 1) * LANES);
                        a0 = w0.fma(bc(xp[x0 + s]), a0);
                        b0 = w0.fma(bc(xp[x1 + s]), b0);
                        a1 = w1.fma(bc(xp[x0 + s + 1]), a1);
                        b1 = w1.fma(bc(xp[x1 + s + 1]), b1);
                    }
                    FloatVector.fromArray(F, acc, t * LANES).add(a0.add(a1)).intoArray(acc, t * LANES);
                    FloatVector.fromArray(F, acc, (t + 1) * LANES).add(b0.add(b1)).intoArray(acc, (t + 1) * LANES);
                }
                for (; t < n; t++) {
                    int x0 = t * cols + k;
                    FloatVector a0 = FloatVector.zero(F);
                    FloatVector a1 = a0;
                    for (int s = 0; s < 32; s += 2) {
                        a0 = FloatVector.fromArray(F, tile, s * LANES).fma(bc(xp[x0 + s]), a0);
                        a1 = FloatVector.fromArray(F, tile, (s + 1) * LANES).fma(bc(xp[x0 + s + 1]), a1);
                    }
                    FloatVector.fromArray(F, acc, t * LANES).add(a0.add(a1)).intoArray(acc, t * LANES);
                }
            }
        }
    }
}
