package io.loadstone.loader.engine;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.tokenizer.TokenizerFactory;
import java.util.List;

/**
 * What ExLlama, ExLlama_HF, ExLlamav2 and ExLlamav2_HF share: 4-bit GPTQ only (their kernels unpack
 * 4-bit words; EXL2 for the v2 pair, as {@link Ranking} says), the weights file as exllama finds it, and
 * {@code max_seq_len} preallocating the KV cache at load, as exllama's {@code ExLlamaCache(max_seq_len)}.
 * A loader of the family is its id, options and capabilities.
 */
public abstract class ExLlamaFamilyLoader extends EngineLoader {

    protected ExLlamaFamilyLoader(TokenizerFactory tokenizers, String id, String description, List<OptionSpec> options,
            Capabilities capabilities) {
        super(tokenizers, id, description, options, capabilities);
    }

    @Override
    protected final Detection judge(HfFolder f) {
        Detection limit = GptqCheckpoint.fourBitOnly(id(), f);
        return limit != null ? limit : Ranking.rank(id(), f);
    }

    @Override
    protected final void configure(EnginePlan plan) throws ModelLoadException {
        plan.preallocateCache();
        GptqCheckpoint.exllama(plan, id());
    }
}
