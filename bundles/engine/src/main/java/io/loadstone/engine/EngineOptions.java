package io.loadstone.engine;

import java.util.Objects;

/**
 * How to open a model: threads, context limit, KV cache type, RoPE overrides (the
 * text-generation-webui options) and load-time weight quantization. Immutable; build with
 * {@link #builder()}. Invalid values are refused by the builder with a message naming the option.
 */
public final class EngineOptions {

    private final int threads;
    private final int maxContext;
    private final int batchSize;
    private final KvCacheType kvCache;
    private final double ropeFreqBase;
    private final double compressPosEmb;
    private final double alphaValue;
    private final WeightQuantization quantization;
    private final LinearFormat linearFormat;
    private final long memoryBudget;
    private final boolean bf16Weights;
    private final boolean preallocateKv;

    private EngineOptions(Builder b) {
        this.threads = b.threads;
        this.maxContext = b.maxContext;
        this.batchSize = b.batchSize;
        this.kvCache = b.kvCache;
        this.ropeFreqBase = b.ropeFreqBase;
        this.compressPosEmb = b.compressPosEmb;
        this.alphaValue = b.alphaValue;
        this.quantization = b.quantization;
        this.linearFormat = b.linearFormat;
        this.memoryBudget = b.memoryBudget;
        this.bf16Weights = b.bf16Weights;
        this.preallocateKv = b.preallocateKv;
    }

    /** All defaults: every core, the model's own context length and RoPE, F32 KV cache, weights as stored. */
    public static EngineOptions defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this object's values, to change a few. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.threads = threads;
        b.maxContext = maxContext;
        b.batchSize = batchSize;
        b.kvCache = kvCache;
        b.ropeFreqBase = ropeFreqBase;
        b.compressPosEmb = compressPosEmb;
        b.alphaValue = alphaValue;
        b.quantization = quantization;
        b.linearFormat = linearFormat;
        b.memoryBudget = memoryBudget;
        b.bf16Weights = bf16Weights;
        b.preallocateKv = preallocateKv;
        return b;
    }

    /**
     * Most bytes of linear-layer weights to hold in memory (0 = no limit). Matrices are placed in
     * layer order: within the budget they are quantized as asked, or read into memory up front;
     * beyond it they stay memory-mapped from the checkpoint in their stored type and the OS reads
     * them from disk as tokens need them (text-generation-webui's {@code cpu-memory}, whose
     * overflow goes to {@code disk}).
     */
    public long memoryBudget() {
        return memoryBudget;
    }

    /**
     * Every F32/F16 weight converted to bfloat16 at load, rounding to nearest even as torch's
     * {@code .to(torch.bfloat16)} does (text-generation-webui's {@code bf16}, transformers'
     * {@code torch_dtype=bfloat16}): an F32 checkpoint then takes half the memory and bandwidth.
     * Linear layers that a {@link #quantization()} replaces are quantized from the stored weights.
     */
    public boolean bf16Weights() {
        return bf16Weights;
    }

    /**
     * Every session allocates its KV cache for {@link #maxContext()} positions when it opens, instead of
     * block by block as it grows (exllama's {@code max_seq_len}: the memory a session needs is taken, or
     * refused, up front).
     *
     * @since 1.3
     */
    public boolean preallocateKv() {
        return preallocateKv;
    }

    /** Compute threads the model owns (matrix products are split across them). */
    public int threads() {
        return threads;
    }

    /**
     * Most positions a session may hold; 0 means the model's {@code max_position_embeddings}
     * times {@link #compressPosEmb()}. The KV cache grows with use, so a large limit costs no memory
     * until it is used.
     */
    public int maxContext() {
        return maxContext;
    }

    /** Prompt tokens processed together (each weight row is read once per batch). */
    public int batchSize() {
        return batchSize;
    }

    public KvCacheType kvCache() {
        return kvCache;
    }

    /** RoPE base replacing {@code rope_theta}; 0 = not set. Takes precedence over {@link #alphaValue()}. */
    public double ropeFreqBase() {
        return ropeFreqBase;
    }

    /** Linear RoPE scaling factor (positions are divided by it); 1 = off. Replaces the config's {@code rope_scaling}. */
    public double compressPosEmb() {
        return compressPosEmb;
    }

    /** NTK-aware scaling: base becomes {@code rope_theta · alpha^(d/(d-2))} with d = head_dim; 1 = off. */
    public double alphaValue() {
        return alphaValue;
    }

    public WeightQuantization quantization() {
        return quantization;
    }

    /** The format that supplies linear layers, or null for plain F32/F16/BF16 checkpoints. */
    public LinearFormat linearFormat() {
        return linearFormat;
    }

    @Override
    public String toString() {
        return "EngineOptions[threads=" + threads + ", maxContext=" + maxContext + ", batchSize=" + batchSize
                + ", kvCache=" + kvCache + ", ropeFreqBase=" + ropeFreqBase + ", compressPosEmb=" + compressPosEmb
                + ", alphaValue=" + alphaValue + ", quantization=" + quantization
                + (linearFormat == null ? "" : ", linearFormat=" + linearFormat.name())
                + (memoryBudget == 0 ? "" : ", memoryBudget=" + memoryBudget) + (bf16Weights ? ", bf16Weights" : "")
                + (preallocateKv ? ", preallocateKv" : "") + "]";
    }

    /** Mutable builder; every setter checks its value at once. */
    public static final class Builder {
        private int threads = Runtime.getRuntime().availableProcessors();
        private int maxContext;
        private int batchSize = 64;
        private KvCacheType kvCache = KvCacheType.F32;
        private double ropeFreqBase;
        private double compressPosEmb = 1.0;
        private double alphaValue = 1.0;
        private WeightQuantization quantization = WeightQuantization.NONE;
        private LinearFormat linearFormat;
        private long memoryBudget;
        private boolean bf16Weights;
        private boolean preallocateKv;

        private Builder() {
        }

        public Builder threads(int threads) {
            if (threads < 1 || threads > 1024) {
                throw new IllegalArgumentException("threads must be between 1 and 1024, not " + threads);
            }
            this.threads = threads;
            return this;
        }

        public Builder maxContext(int maxContext) {
            if (maxContext < 0) {
                throw new IllegalArgumentException("maxContext must be 0 (model default) or positive, not " + maxContext);
            }
            this.maxContext = maxContext;
            return this;
        }

        public Builder batchSize(int batchSize) {
            if (batchSize < 1 || batchSize > 4096) {
                throw new IllegalArgumentException("batchSize must be between 1 and 4096, not " + batchSize);
            }
            this.batchSize = batchSize;
            return this;
        }

        public Builder kvCache(KvCacheType kvCache) {
            this.kvCache = Objects.requireNonNull(kvCache, "kvCache");
            return this;
        }

        public Builder ropeFreqBase(double ropeFreqBase) {
            if (!(ropeFreqBase == 0 || ropeFreqBase > 1) || Double.isInfinite(ropeFreqBase)) {
                throw new IllegalArgumentException("rope_freq_base must be 0 (use the model's) or greater than 1, not " + ropeFreqBase);
            }
            this.ropeFreqBase = ropeFreqBase;
            return this;
        }

        public Builder compressPosEmb(double compressPosEmb) {
            if (!(compressPosEmb > 0) || Double.isInfinite(compressPosEmb)) {
                throw new IllegalArgumentException("compress_pos_emb must be a positive number (1 = off), not " + compressPosEmb);
            }
            this.compressPosEmb = compressPosEmb;
            return this;
        }

        public Builder alphaValue(double alphaValue) {
            if (!(alphaValue > 0) || Double.isInfinite(alphaValue)) {
                throw new IllegalArgumentException("alpha_value must be a positive number (1 = off), not " + alphaValue);
            }
            this.alphaValue = alphaValue;
            return this;
        }

        public Builder quantization(WeightQuantization quantization) {
            this.quantization = Objects.requireNonNull(quantization, "quantization");
            return this;
        }

        /** A weight format for the linear layers (null = plain float checkpoints). */
        public Builder linearFormat(LinearFormat linearFormat) {
            this.linearFormat = linearFormat;
            return this;
        }

        /** See {@link EngineOptions#memoryBudget()}; 0 = no limit. */
        public Builder memoryBudget(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("the memory budget must be 0 (no limit) or positive, not " + bytes);
            }
            this.memoryBudget = bytes;
            return this;
        }

        /** See {@link EngineOptions#bf16Weights()}. */
        public Builder bf16Weights(boolean bf16Weights) {
            this.bf16Weights = bf16Weights;
            return this;
        }

        /** See {@link EngineOptions#preallocateKv()}. */
        public Builder preallocateKv(boolean preallocateKv) {
            this.preallocateKv = preallocateKv;
            return this;
        }

        public EngineOptions build() {
            return new EngineOptions(this);
        }
    }
}
