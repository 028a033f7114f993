package io.loadstone.llamacpp;

import java.util.List;

/**
 * A sampler chain. Neutral values switch a stage off. The chain is built in llama.cpp's
 * usual order: banned tokens, penalties, then either greedy, or mirostat (after temperature), or
 * top-k, typical, top-p, min-p, temperature and a seeded random draw.
 *
 * @param greedy           pick the most likely token (after penalties); the other
 *                         truncation and temperature settings are then ignored
 * @param seed             seed of the random draw; negative = a fresh random seed
 * @param temperature      softmax temperature (1 = unchanged; <= 0 behaves as greedy)
 * @param topK             keep the k most likely tokens (0 = off)
 * @param topP             nucleus sampling (1 = off)
 * @param minP             drop tokens below minP x the top probability (0 = off)
 * @param typicalP         locally typical sampling (1 = off)
 * @param penaltyLastN     how many recent tokens the penalties look at (0 = off, -1 = the whole context)
 * @param repeatPenalty    repetition penalty (1 = off)
 * @param frequencyPenalty frequency penalty (0 = off)
 * @param presencePenalty  presence penalty (0 = off)
 * @param mirostat         0 = off, 1 = Mirostat, 2 = Mirostat 2.0
 * @param mirostatTau      Mirostat target surprise
 * @param mirostatEta      Mirostat learning rate
 * @param bannedTokens     tokens that are never picked (e.g. EOS for "ban EOS"); applied first
 */
public record SamplerParams(boolean greedy, long seed, float temperature, int topK, float topP, float minP,
        float typicalP, int penaltyLastN, float repeatPenalty, float frequencyPenalty, float presencePenalty,
        int mirostat, float mirostatTau, float mirostatEta, List<Integer> bannedTokens) {

    public SamplerParams {
        bannedTokens = bannedTokens == null ? List.of() : List.copyOf(bannedTokens);
        if (mirostat < 0 || mirostat > 2) {
            throw new IllegalArgumentException("mirostat must be 0, 1 or 2: " + mirostat);
        }
        if (topK < 0 || penaltyLastN < -1) {
            throw new IllegalArgumentException("topK must be >= 0 and penaltyLastN >= -1: topK=" + topK
                    + " penaltyLastN=" + penaltyLastN);
        }
    }

    /** Argmax decoding. */
    public static SamplerParams greedyDecoding() {
        return new SamplerParams(true, -1, 1f, 0, 1f, 0f, 1f, 0, 1f, 0f, 0f, 0, 5f, 0.1f, List.of());
    }

    /** Plain random sampling from the full distribution at temperature 1. */
    public static SamplerParams random(long seed) {
        return new SamplerParams(false, seed, 1f, 0, 1f, 0f, 1f, 0, 1f, 0f, 0f, 0, 5f, 0.1f, List.of());
    }

    /** The same chain with {@code tokens} banned. */
    public SamplerParams withBannedTokens(List<Integer> tokens) {
        return new SamplerParams(greedy, seed, temperature, topK, topP, minP, typicalP, penaltyLastN, repeatPenalty,
                frequencyPenalty, presencePenalty, mirostat, mirostatTau, mirostatEta, tokens);
    }

    /** True when a penalty stage is needed. */
    public boolean hasPenalties() {
        return penaltyLastN != 0 && (repeatPenalty != 1f || frequencyPenalty != 0f || presencePenalty != 0f);
    }
}
