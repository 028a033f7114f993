package io.loadstone.engine.tensor;


import io.loadstone.engine.KvCacheType;
import io.loadstone.engine.kernel.Ops;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Keys and values of every layer for the positions of one session.
 *
 * <p>Off-heap, in blocks of {@value #BLOCK} positions allocated as the sequence grows: a long
 * context limit costs nothing until used, the cache is bounded by RAM rather than {@code -Xmx},
 * and closing frees it at once. Inside a block the layout is {@code [kvHead][position][headDim]},
 * so attention for one head walks contiguous memory.
 */
public final class KvCache implements AutoCloseable {

    public static final int BLOCK = 256;

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(NATIVE);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(NATIVE);

    private final int layers;
    private final int kvHeads;
    private final int headDim;
    private final int maxPositions;
    private final KvCacheType type;
    private final int elementSize;
    private final Arena arena = Arena.ofShared();
    /** keys.get(block)[layer], values.get(block)[layer]. */
    private final List<MemorySegment[]> keys = new ArrayList<>();
    private final List<MemorySegment[]> values = new ArrayList<>();

    public KvCache(int layers, int kvHeads, int headDim, int maxPositions, KvCacheType type) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.maxPositions = maxPositions;
        this.type = type;
        this.elementSize = switch (type) {
            case F32 -> 4;
            case F16 -> 2;
            case FP8 -> 1;
        };
    }

    /** Makes room for positions {@code [0, positions)}. */
    public void ensureCapacity(int positions) {
        if (positions > maxPositions) {
            throw new IllegalArgumentException("KV cache holds at most " + maxPositions + " positions, " + positions + " asked");
        }
        long blockBytes = (long) kvHeads * BLOCK * headDim * elementSize;
        while (keys.size() * BLOCK < positions) {
            MemorySegment[] k = new MemorySegment[layers];
            MemorySegment[] v = new MemorySegment[layers];
            for (int l = 0; l < layers; l++) {
                k[l] = arena.allocate(blockBytes, 64);
                v[l] = arena.allocate(blockBytes, 64);
            }
            keys.add(k);
            values.add(v);
        }
    }

    /** Bytes allocated so far. */
    public long allocatedBytes() {
        return 2L * keys.size() * layers * kvHeads * BLOCK * headDim * elementSize;
    }

    private long offset(int head, int pos) {
        return ((long) head * BLOCK + (pos % BLOCK)) * headDim * elementSize;
    }

    /** Stores the keys and values (all kv heads, {@code kvHeads·headDim} floats each) of one position. */
    public void store(int layer, int pos, float[] k, int ko, float[] v, int vo) {
        MemorySegment kb = keys.get(pos / BLOCK)[layer];
        MemorySegment vb = values.get(pos / BLOCK)[layer];
        for (int h = 0; h < kvHeads; h++) {
            long off = offset(h, pos);
            int src = h * headDim;
            for (int i = 0; i < headDim; i++) {
                switch (type) {
                    case F16 -> {
                        kb.set(U16, off + 2L * i, Float.floatToFloat16(k[ko + src + i]));
                        vb.set(U16, off + 2L * i, Float.floatToFloat16(v[vo + src + i]));
                    }
                    case FP8 -> {
                        kb.set(ValueLayout.JAVA_BYTE, off + i, toFp8(k[ko + src + i]));
                        vb.set(ValueLayout.JAVA_BYTE, off + i, toFp8(v[vo + src + i]));
                    }
                    default -> {
                        kb.set(F32, off + 4L * i, k[ko + src + i]);
                        vb.set(F32, off + 4L * i, v[vo + src + i]);
                    }
                }
            }
        }
    }

    /**
     * Scaled dot-product attention for the {@code group} query heads that share kv head
     * {@code head} (GQA), over positions {@code [from, to)}: for each query head g,
     * {@code out_g = softmax(q_g·Kᵀ·scale) · V}. Query head g starts at {@code q[qo + g·headDim]},
     * its output at {@code out[oo + g·headDim]}. Each key and value is read once for the whole
     * group rather than once per query head. {@code scores} must hold {@code group·(to-from)}.
     */
    public void attend(int layer, int head, int group, float[] q, int qo, int from, int to, float scale, float[] scores,
            float[] out, int oo) {
        int n = to - from;
        // Each cached row is widened to floats once and then used by every query head of the
        // group: converting F16 inside the per-head dot product repeated the conversion `group`
        // times per position (measured: a quarter of the decode time with 8 heads per group).
        float[] row = new float[headDim];
        for (int p = from; p < to; p++) {
            widen(keys.get(p / BLOCK)[layer], offset(head, p), row);
            for (int g = 0; g < group; g++) {
                scores[g * n + p - from] = Ops.dot(row, 0, q, qo + g * headDim, headDim) * scale;
            }
        }
        for (int g = 0; g < group; g++) {
            Ops.softmax(scores, g * n, n);
        }
        java.util.Arrays.fill(out, oo, oo + group * headDim, 0f);
        for (int p = from; p < to; p++) {
            widen(values.get(p / BLOCK)[layer], offset(head, p), row);
            for (int g = 0; g < group; g++) {
                Ops.axpy(scores[g * n + p - from], row, 0, out, oo + g * headDim, headDim);
            }
        }
    }

    /** One cached row as floats. */
    private void widen(MemorySegment seg, long off, float[] row) {
        if (type == KvCacheType.FP8) {
            for (int i = 0; i < headDim; i++) {
                row[i] = fromFp8(seg.get(ValueLayout.JAVA_BYTE, off + i));
            }
        } else if (type == KvCacheType.F16) {
            // A plain loop: C2 compiles Float.float16ToFloat over a segment to the CPU's
            // half-to-float instruction, exact for infinities and NaN as an overflowing
            // activation needs.
            for (int i = 0; i < headDim; i++) {
                row[i] = Float.float16ToFloat(seg.get(U16, off + 2L * i));
            }
        } else {
            MemorySegment.copy(seg, F32, off, row, 0, headDim);
        }
    }

    /**
     * FP8 E5M2: the half-precision bits of {@code f} rounded to nearest even at the upper byte
     * (a carry into the exponent is the right result, up to infinity); NaN stays NaN.
     */
    static byte toFp8(float f) {
        int h = Float.floatToFloat16(f) & 0xffff;
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0) {
            return (byte) ((h >>> 8) | 0x02);
        }
        return (byte) ((h + 0x7f + ((h >>> 8) & 1)) >>> 8);
    }

    static float fromFp8(byte b) {
        return Float.float16ToFloat((short) ((b & 0xff) << 8));
    }

    @Override
    public void close() {
        keys.clear();
        values.clear();
        arena.close();
    }
}
