package io.loadstone.bench;

import io.loadstone.gguf.GgmlType;
import java.nio.ByteBuffer;

/**
 * llama.cpp's reference block quantizers ({@code quantize_row_q4_0_ref}, {@code
 * quantize_row_q8_0_ref} in ggml-quants.c), re-expressed to write benchmark GGUFs: blocks of 32
 * values with one fp16 scale.
 */
final class GgmlBlocks {

    private GgmlBlocks() {
    }

    /** Appends the blocks of {@code x} (a multiple of 32 values) to {@code out}. */
    static void quantize(GgmlType type, float[] x, ByteBuffer out) {
        for (int b = 0; b < x.length; b += 32) {
            switch (type) {
                case Q4_0 -> q4_0(x, b, out);
                case Q8_0 -> q8_0(x, b, out);
                default -> throw new IllegalArgumentException("no quantizer for " + type);
            }
        }
    }

    /** d = (value of largest magnitude) / −8; q = min(15, (int) (x/d + 8.5)); value j and j+16 share a byte. */
    private static void q4_0(float[] x, int b, ByteBuffer out) {
        float amax = 0;
        float max = 0;
        for (int j = 0; j < 32; j++) {
            if (amax < Math.abs(x[b + j])) {
                amax = Math.abs(x[b + j]);
                max = x[b + j];
            }
        }
        float d = max / -8;
        float id = d != 0 ? 1 / d : 0;
        out.putShort(Float.floatToFloat16(d));
        for (int j = 0; j < 16; j++) {
            int lo = Math.min(15, (int) (x[b + j] * id + 8.5f));
            int hi = Math.min(15, (int) (x[b + 16 + j] * id + 8.5f));
            out.put((byte) (lo | hi << 4));
        }
    }

    /** d = absmax / 127; q = round(x / d). */
    private static void q8_0(float[] x, int b, ByteBuffer out) {
        float amax = 0;
        for (int j = 0; j < 32; j++) {
            amax = Math.max(amax, Math.abs(x[b + j]));
        }
        float d = amax / 127;
        float id = d != 0 ? 1 / d : 0;
        out.putShort(Float.floatToFloat16(d));
        for (int j = 0; j < 32; j++) {
            out.put((byte) Math.round(x[b + j] * id));
        }
    }
}
