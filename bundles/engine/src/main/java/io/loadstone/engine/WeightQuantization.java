package io.loadstone.engine;

/**
 * Optional re-quantization of the linear-layer weights at load time (bitsandbytes-like). The
 * embedding, norms and lm_head keep their stored type.
 */
public enum WeightQuantization {
    /** Use the weights as stored (F32, F16 or BF16), read straight from the mapped file. */
    NONE,
    /** 8-bit integers with one absmax scale per output row ({@code load_in_8bit}-like). */
    INT8,
    /** 4-bit NormalFloat with one absmax scale per block of 64 ({@code load_in_4bit}, nf4). */
    NF4
}
