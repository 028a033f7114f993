package io.loadstone.llamacpp.b4916;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.SamplerParams;
import io.loadstone.llamacpp.TokenSampler;

/** A llama_sampler chain built from {@link SamplerParams} with the samplers b4916 has. */
final class B4916Sampler implements TokenSampler {

    /** Mirostat 1.0's "m" (tokens used to estimate s_hat), as llama.cpp's tools use it. */
    private static final int MIROSTAT_M = 100;

    private final B4916Model model;
    private final Abi abi;
    private MemorySegment chain;

    private B4916Sampler(B4916Model model, MemorySegment chain) {
        this.model = model;
        this.abi = model.abi();
        this.chain = chain;
    }

    /** Builds the chain; runs under the model's lock. */
    static B4916Sampler create(B4916Model model, SamplerParams p) throws LlamaException {
        Abi abi = model.abi();
        MemorySegment chain;
        try (Arena tmp = Arena.ofConfined()) {
            chain = abi.chainInit(abi.chainDefaultParams(tmp));
        }
        if (chain.address() == 0) {
            throw new LlamaException("llama.cpp could not create a sampler chain.");
        }
        int seed = p.seed() < 0 ? Abi.DEFAULT_SEED : (int) p.seed();
        if (!p.bannedTokens().isEmpty()) {
            try (Arena tmp = Arena.ofConfined()) {
                int n = p.bannedTokens().size();
                MemorySegment biases = tmp.allocate(8L * n, 4);
                for (int i = 0; i < n; i++) {
                    int token = p.bannedTokens().get(i);
                    if (token < 0 || token >= model.nVocab()) {
                        abi.samplerFree(chain);
                        throw new LlamaException("Banned token id " + token + " is outside the vocabulary.");
                    }
                    biases.set(java.lang.foreign.ValueLayout.JAVA_INT, 8L * i, token);
                    biases.set(java.lang.foreign.ValueLayout.JAVA_FLOAT, 8L * i + 4, Float.NEGATIVE_INFINITY);
                }
                abi.chainAdd(chain, abi.samplerLogitBias(model.nVocab(), n, biases));
            }
        }
        if (p.hasPenalties()) {
            // b4916 clamps last_n to >= 0 itself; "-1 = whole context" is ours to resolve.
            int lastN = p.penaltyLastN() < 0 ? model.nCtx() : p.penaltyLastN();
            abi.chainAdd(chain, abi.samplerPenalties(model.nVocab(), lastN, p.repeatPenalty(), p.frequencyPenalty(),
                    p.presencePenalty()));
        }
        if (p.greedy() || p.temperature() <= 0f) {
            abi.chainAdd(chain, abi.samplerGreedy());
        } else if (p.mirostat() == 2) {
            abi.chainAdd(chain, abi.samplerTemp(p.temperature()));
            abi.chainAdd(chain, abi.samplerMirostatV2(seed, p.mirostatTau(), p.mirostatEta()));
        } else if (p.mirostat() == 1) {
            abi.chainAdd(chain, abi.samplerTemp(p.temperature()));
            abi.chainAdd(chain, abi.samplerMirostat(model.nVocab(), seed, p.mirostatTau(), p.mirostatEta(),
                    MIROSTAT_M));
        } else {
            if (p.topK() > 0) {
                abi.chainAdd(chain, abi.samplerTopK(p.topK()));
            }
            if (p.typicalP() < 1f) {
                abi.chainAdd(chain, abi.samplerTypical(p.typicalP(), 1));
            }
            if (p.topP() < 1f) {
                abi.chainAdd(chain, abi.samplerTopP(p.topP(), 1));
            }
            if (p.minP() > 0f) {
                abi.chainAdd(chain, abi.samplerMinP(p.minP(), 1));
            }
            if (p.temperature() != 1f) {
                abi.chainAdd(chain, abi.samplerTemp(p.temperature()));
            }
            abi.chainAdd(chain, abi.samplerDist(seed));
        }
        return new B4916Sampler(model, chain);
    }

    @Override
    public int sample() throws LlamaException {
        return model.locked(() -> {
            requireOpen();
            if (!model.hasLastLogits()) {
                // llama_sampler_sample would dereference a NULL logits pointer.
                throw new LlamaException("Nothing to sample from: decode tokens first.");
            }
            return abi.samplerSample(chain, model.context(), -1);
        });
    }

    @Override
    public void accept(int token) throws LlamaException {
        if (token < 0 || token >= model.nVocab()) {
            throw new LlamaException("Token id " + token + " is outside the vocabulary.");
        }
        model.locked(() -> {
            requireOpen();
            abi.samplerAccept(chain, token);
            return null;
        });
    }

    @Override
    public void reset() throws LlamaException {
        model.locked(() -> {
            requireOpen();
            abi.samplerReset(chain);
            return null;
        });
    }

    private void requireOpen() throws LlamaException {
        if (chain == null) {
            throw new LlamaException("This sampler has been closed.");
        }
    }

    /** Under the model's lock. */
    void freeNative() {
        if (chain != null) {
            abi.samplerFree(chain);
            chain = null;
        }
    }

    @Override
    public void close() {
        model.free(this);
    }
}
