package io.loadstone.llamacpp;

/**
 * How a model's inference context is set up (llama.cpp's {@code llama_context_params}).
 *
 * @param nCtx           context window in tokens (0 = the model's training context)
 * @param nBatch         most tokens one {@link NativeModel#decode} submits to llama.cpp at once;
 *                       longer inputs are split into chunks of this size
 * @param nUbatch        physical batch size (0 = min(nBatch, 512))
 * @param nThreads       threads for generating one token at a time (0 = half the CPUs, like
 *                       llama-cpp-python)
 * @param nThreadsBatch  threads for prompt processing (0 = all CPUs)
 * @param ropeFreqBase   RoPE base frequency (0 = from the model)
 * @param ropeFreqScale  RoPE frequency scale, 1/compress_pos_emb (0 = from the model)
 * @param typeK          KV cache element type for keys
 * @param typeV          KV cache element type for values
 * @param flashAttention use flash attention
 */
public record ContextParams(int nCtx, int nBatch, int nUbatch, int nThreads, int nThreadsBatch, float ropeFreqBase,
        float ropeFreqScale, CacheType typeK, CacheType typeV, boolean flashAttention) {

    public ContextParams {
        if (nCtx < 0 || nBatch < 1 || nUbatch < 0 || nThreads < 0 || nThreadsBatch < 0) {
            throw new IllegalArgumentException("nCtx, nUbatch and thread counts must be >= 0 and nBatch >= 1: nCtx="
                    + nCtx + " nBatch=" + nBatch + " nUbatch=" + nUbatch + " nThreads=" + nThreads
                    + " nThreadsBatch=" + nThreadsBatch);
        }
        if (!(ropeFreqBase >= 0) || !(ropeFreqScale >= 0)) {
            throw new IllegalArgumentException("rope values must be >= 0: base=" + ropeFreqBase + " scale="
                    + ropeFreqScale);
        }
        if (typeK == null) {
            typeK = CacheType.F16;
        }
        if (typeV == null) {
            typeV = CacheType.F16;
        }
    }

    /** n_ctx 2048, n_batch 512, automatic threads, RoPE from the model, F16 KV cache. */
    public static ContextParams defaults() {
        return new ContextParams(2048, 512, 0, 0, 0, 0f, 0f, CacheType.F16, CacheType.F16, false);
    }

    public ContextParams withContext(int n) {
        return new ContextParams(n, nBatch, nUbatch, nThreads, nThreadsBatch, ropeFreqBase, ropeFreqScale, typeK,
                typeV, flashAttention);
    }

    public ContextParams withBatch(int n) {
        return new ContextParams(nCtx, n, nUbatch, nThreads, nThreadsBatch, ropeFreqBase, ropeFreqScale, typeK, typeV,
                flashAttention);
    }

    public ContextParams withThreads(int generate, int batch) {
        return new ContextParams(nCtx, nBatch, nUbatch, generate, batch, ropeFreqBase, ropeFreqScale, typeK, typeV,
                flashAttention);
    }

    public ContextParams withRope(float freqBase, float freqScale) {
        return new ContextParams(nCtx, nBatch, nUbatch, nThreads, nThreadsBatch, freqBase, freqScale, typeK, typeV,
                flashAttention);
    }

    public ContextParams withCache(CacheType k, CacheType v) {
        return new ContextParams(nCtx, nBatch, nUbatch, nThreads, nThreadsBatch, ropeFreqBase, ropeFreqScale, k, v,
                flashAttention);
    }

    /** Threads for single-token decoding once "0 = automatic" is resolved. */
    public int effectiveThreads() {
        return nThreads > 0 ? nThreads : Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
    }

    /** Threads for prompt processing once "0 = automatic" is resolved. */
    public int effectiveThreadsBatch() {
        return nThreadsBatch > 0 ? nThreadsBatch : Math.max(1, Runtime.getRuntime().availableProcessors());
    }
}
