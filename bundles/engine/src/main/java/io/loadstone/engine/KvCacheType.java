package io.loadstone.engine;

/** Element type of the attention key/value cache. */
public enum KvCacheType {
    /** Exact; 4 bytes per value. */
    F32,
    /** Half the memory; keys and values are rounded to IEEE half precision when stored. */
    F16,
    /**
     * A quarter of F32, half of F16 (exllamav2's {@code cache_8bit}, {@code ExLlamaV2Cache_8bit}):
     * each value is stored as FP8 E5M2, the upper byte of its half-precision form (2 mantissa
     * bits, the range of F16), rounded to nearest even where exllamav2 truncates. Coarse: on a
     * small model (head_dim 8) logits drift by up to ~3; measure it on yours.
     *
     * @since 1.3
     */
    FP8
}
