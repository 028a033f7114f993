package io.loadstone.engine.tensor;

import io.loadstone.engine.kernel.ComputePool;
import io.loadstone.engine.kernel.QuantVec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Load-time weight quantization (bitsandbytes-like, weights only; activations stay float).
 * Rows are quantized in parallel; the result lives off-heap in the model's arena.
 */
public final class Quantizer {

    private Quantizer() {
    }

    /** Per-row absmax int8: {@code q = round(w · 127 / absmax)}. */
    public static Matrix int8(Matrix m, Arena arena, ComputePool pool) {
        int rows = m.rows();
        int cols = m.cols();
        MemorySegment q = arena.allocate((long) rows * cols, 64);
        float[] scales = new float[rows];
        pool.parallelFor(rows, 16, (r0, r1) -> {
            float[] row = new float[cols];
            for (int r = r0; r < r1; r++) {
                m.row(r, row, 0);
                float absmax = 0;
                for (float v : row) {
                    absmax = Math.max(absmax, Math.abs(v));
                }
                float scale = absmax / 127f;
                scales[r] = scale;
                float inv = scale == 0 ? 0 : 1f / scale;
                long base = (long) r * cols;
                for (int c = 0; c < cols; c++) {
                    q.set(ValueLayout.JAVA_BYTE, base + c, (byte) Math.max(-127, Math.min(127, Math.round(row[c] * inv))));
                }
            }
        });
        return new Int8Matrix(m.name(), rows, cols, q, scales);
    }

    /** NF4 with one absmax per block of 64 along each row. */
    public static Matrix nf4(Matrix m, Arena arena, ComputePool pool) {
        int rows = m.rows();
        int cols = m.cols();
        int block = QuantVec.NF4_BLOCK;
        int blocks = (cols + block - 1) / block;
        long rowBytes = QuantVec.nf4RowBytes(cols);
        MemorySegment packed = arena.allocate(rows * rowBytes, 64);
        float[] absmax = new float[rows * blocks];
        pool.parallelFor(rows, 16, (r0, r1) -> {
            float[] row = new float[cols];
            for (int r = r0; r < r1; r++) {
                m.row(r, row, 0);
                for (int b = 0; b < blocks; b++) {
                    int start = b * block;
                    int len = Math.min(block, cols - start);
                    float max = 0;
                    for (int e = 0; e < len; e++) {
                        max = Math.max(max, Math.abs(row[start + e]));
                    }
                    absmax[r * blocks + b] = max;
                    float inv = max == 0 ? 0 : 1f / max;
                    long base = r * rowBytes + (long) b * (block / 2);
                    for (int e = 0; e < len; e++) {
                        int code = QuantVec.nf4Encode(row[start + e] * inv);
                        long at = base + (e % (block / 2));
                        int old = packed.get(ValueLayout.JAVA_BYTE, at) & 0xff;
                        int now = e < block / 2 ? (old & 0xf0) | code : (old & 0x0f) | (code << 4);
                        packed.set(ValueLayout.JAVA_BYTE, at, (byte) now);
                    }
                }
            }
        });
        return new Nf4Matrix(m.name(), rows, cols, packed, absmax);
    }
}
