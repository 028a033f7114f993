package io.loadstone.llamacpp;

/**
 * Element type of the KV cache. F16 is llama.cpp's default; F32 gives results that match
 * an F32 reference implementation to ~1e-5 (F16 moves logits by up to ~1e-2). Quantised
 * V caches need flash attention.
 */
public enum CacheType {
    F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL
}
