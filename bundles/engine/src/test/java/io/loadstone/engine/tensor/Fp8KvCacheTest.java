package io.loadstone.engine.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.engine.KvCacheType;
import org.junit.jupiter.api.Test;

/** The FP8 (E5M2) KV cache of {@code cache_8bit}: the conversion and the memory it takes. */
class Fp8KvCacheTest {

    @Test
    void everyHalfPrecisionValueRoundsToTheNearestFp8TiesToEven() {
        // The 256 FP8 values, with infinity counted as 2^16 (IEEE overflow rounding).
        float[] fp8 = new float[256];
        for (int b = 0; b < 256; b++) {
            float v = KvCache.fromFp8((byte) b);
            fp8[b] = Float.isInfinite(v) ? Math.copySign(65536f, v) : v;
        }
        for (int h = 0; h < 0x10000; h++) {
            float x = Float.float16ToFloat((short) h);
            byte got = KvCache.toFp8(x);
            if (Float.isNaN(x) || Float.isInfinite(x)) {
                assertEquals(x, KvCache.fromFp8(got), Integer.toHexString(h));
                continue;
            }
            int best = -1;
            for (int b = 0; b < 256; b++) {
                // Same sign only: a value rounds towards zero or away from it, never across.
                if (Float.isNaN(fp8[b]) || Math.copySign(1f, fp8[b]) != Math.copySign(1f, x)) {
                    continue;
                }
                if (best < 0) {
                    best = b;
                    continue;
                }
                double d = Math.abs((double) fp8[b] - x);
                double e = Math.abs((double) fp8[best] - x);
                if (d < e || (d == e && (b & 1) == 0 && (best & 1) == 1)) {
                    best = b;
                }
            }
            assertEquals((byte) best, got, "fp16 " + Integer.toHexString(h) + " = " + x);
        }
    }

    @Test
    void eightBitCacheTakesHalfTheMemoryOfF16PerToken() {
        int layers = 22;
        int kvHeads = 4;
        int headDim = 64;
        try (KvCache f16 = new KvCache(layers, kvHeads, headDim, 4096, KvCacheType.F16);
                KvCache fp8 = new KvCache(layers, kvHeads, headDim, 4096, KvCacheType.FP8)) {
            for (int positions : new int[] {1, 300, 1000}) {
                f16.ensureCapacity(positions);
                fp8.ensureCapacity(positions);
                assertEquals(f16.allocatedBytes(), 2 * fp8.allocatedBytes());
            }
            // Per token: 2 (k, v) · layers · kvHeads · headDim bytes.
            assertEquals(2L * layers * kvHeads * headDim * 1024, fp8.allocatedBytes());
        }
    }
}
