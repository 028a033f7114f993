package io.loadstone.loader.engine;

import io.loadstone.sampling.StopStrings;
import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LogitsAccess;
import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelInfo;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.StopReason;
import io.loadstone.api.loader.TokenSink;
import io.loadstone.engine.EngineModel;
import io.loadstone.engine.EngineSession;
import io.loadstone.sampling.SamplingSession;
import io.loadstone.sampling.TokenLoop;
import io.loadstone.tokenizer.HfTokenizer;
import io.loadstone.tokenizer.StreamDecoder;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * A checkpoint loaded by the Java engine with its Hugging Face tokenizer: what every engine-backed
 * loader (Transformers, AutoGPTQ, ExLlama, …) hands out. Generation runs the Hugging Face sampler
 * stack; a loader with a smaller sampler set ({@link Samplers}) only announces fewer parameters, and
 * the core refuses requests that set others.
 *
 * <p>Every use of the engine happens under {@code turn}, so generations run one after another
 * and {@link #close()} frees the weights only when no forward pass is running: it raises
 * {@code closed} first, which a generation checks after every token (and so ends with
 * {@link StopReason#CLOSED} within one token or one prompt pass), then takes the lock.
 */
public final class EngineLoadedModel implements LoadedModel, LogitsAccess {

    private final EngineModel engine;
    private final HfTokenizer tokenizer;
    private final ModelInfo info;
    private final Set<Integer> eosIds;
    private final int bosId;
    private final Consumer<EngineLoadedModel> onClose;
    /** Why a request with a negative prompt or guidance_scale is refused (the cfg_cache option off), or null. */
    private final String cfgRefusal;
    /** The preallocated KV caches (max_seq_len positions each) of the exllama loaders, or null: a session per use. */
    private final EngineSession cache;
    private final EngineSession negativeCache;
    /** False for the native-sampler loaders (ExLlama, ExLlamav2), which offer no logits in text-generation-webui. */
    private final boolean exposeLogits;
    private final ReentrantLock turn = new ReentrantLock();
    private volatile boolean closed;

    EngineLoadedModel(EngineModel engine, HfTokenizer tokenizer, ModelInfo info, Set<Integer> eosIds,
            String cfgRefusal, boolean logits, boolean preallocated, Consumer<EngineLoadedModel> onClose) {
        this.cfgRefusal = cfgRefusal;
        // exllama's caches: made (and their memory taken) at load, reset for each use.
        this.cache = preallocated ? engine.newSession() : null;
        this.negativeCache = preallocated && cfgRefusal == null ? engine.newSession() : null;
        this.exposeLogits = logits;
        this.engine = engine;
        this.tokenizer = tokenizer;
        this.info = info;
        this.eosIds = Set.copyOf(eosIds);
        this.bosId = tokenizer.bosId().orElse(engine.config().bosTokenId());
        this.onClose = onClose;
    }

    @Override
    public ModelInfo info() {
        return info;
    }

    @Override
    public int[] tokenize(String text, boolean addSpecial) throws ModelLoadException {
        ensureOpen();
        try {
            return tokenizer.encode(text, addSpecial);
        } catch (IllegalStateException e) {
            throw closedError();
        }
    }

    @Override
    public String detokenize(int[] tokens) throws ModelLoadException {
        ensureOpen();
        try {
            return tokenizer.decode(tokens, false);
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "tokens",
                    "Cannot detokenize: " + e.getMessage(), "Pass ids between 0 and "
                    + (tokenizer.vocabSize() - 1) + ".", e);
        } catch (IllegalStateException e) {
            throw closedError();
        }
    }

    /**
     * Under {@code turn}, so it waits for a running generation or evaluation and the next one
     * runs wholly under the new set; every generation and evaluation opens a new engine session,
     * so no KV cache computed under the previous adapters is reused.
     */
    @Override
    public void setLoras(List<LoraAdapter> adapters) throws ModelLoadException {
        turn.lock();
        try {
            ensureOpen();
            engine.setLoras(adapters);
        } finally {
            turn.unlock();
        }
    }

    @Override
    public List<LoraAdapter> loras() {
        return engine.loras();
    }

    @Override
    public Optional<LogitsAccess> logits() {
        return exposeLogits ? Optional.of(this) : Optional.empty();
    }

    @Override
    public int vocabSize() {
        return engine.config().vocabSize();
    }

    @Override
    public float[][] evaluate(int[] tokens, boolean allPositions) throws ModelLoadException {
        if (tokens.length == 0) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "tokens",
                    "No tokens to evaluate.", "Pass at least one token id.", null);
        }
        turn.lock();
        try {
            ensureOpen();
            EngineSession s = session(cache);
            try {
                return allPositions ? s.forwardAll(tokens) : new float[][] {s.forward(tokens)};
            } catch (IllegalArgumentException e) {
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "tokens",
                        "Cannot evaluate " + tokens.length + " tokens: " + e.getMessage(),
                        "Use ids below " + vocabSize() + " and at most " + engine.maxContext() + " tokens.", e);
            } finally {
                release(s, cache);
            }
        } finally {
            turn.unlock();
        }
    }

    @Override
    public GenerationResult generate(GenerationRequest request, TokenSink sink) throws ModelLoadException {
        turn.lock();
        try {
            if (closed) {
                return new GenerationResult("", 0, 0, StopReason.CLOSED, 0, 0);
            }
            return run(request, sink);
        } finally {
            turn.unlock();
        }
    }

    private GenerationResult run(GenerationRequest request, TokenSink sink) throws ModelLoadException {
        long t0 = System.nanoTime();
        int[] prompt = tokenizer.encode(request.prompt(), request.addBos());
        if (prompt.length == 0) {
            if (bosId < 0) {
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "prompt",
                        "The prompt is empty and the model has no BOS token to start from.",
                        "Give a prompt.", null);
            }
            prompt = new int[] {bosId};
        }
        int maxContext = engine.maxContext();
        if (prompt.length >= maxContext) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "prompt",
                    "The prompt has " + prompt.length + " tokens; the context holds "
                    + maxContext + " (max_seq_len) and generation needs room for at least one more.",
                    "Shorten the prompt (truncation length) or load the model with a larger max_seq_len.", null);
        }
        SamplingSession sampler;
        try {
            sampler = SamplingSession.start(request, prompt, eosIds.stream().mapToInt(Integer::intValue).toArray());
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, null,
                    "Bad sampling parameters: " + e.getMessage(), "Fix the parameter.", e);
        }
        boolean guidance = sampler.settings().usesGuidance();
        if (cfgRefusal != null && (guidance || !request.negativePrompt().isEmpty())) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "guidance_scale",
                    "Classifier-free guidance (negative prompt, guidance_scale) needs a second "
                    + "cache: " + cfgRefusal + ".", "Reload the model with cfg_cache on, or leave guidance_scale at 1 "
                            + "and the negative prompt empty.", null);
        }
        StreamDecoder decoder = tokenizer.streamDecoder(prompt, true);
        StopStrings stops = new StopStrings(request.stop());
        TokenLoop loop = new TokenLoop(sampler, eosIds::contains, decoder::push, stops, () -> closed);
        EngineSession main = session(cache);
        EngineSession negative = guidance ? session(negativeCache) : null;
        long t1 = t0;
        TokenLoop.Outcome outcome;
        try {
            float[] logits = main.forward(prompt);
            float[] uncond = null;
            if (guidance) {
                // As transformers' UnbatchedClassifierFreeGuidanceLogitsProcessor: the negative prompt,
                // or the last prompt token alone when there is none, continued with the same tokens.
                int[] neg = request.negativePrompt().isEmpty() ? new int[] {prompt[prompt.length - 1]}
                        : tokenizer.encode(request.negativePrompt(), request.addBos());
                if (neg.length == 0 || neg.length >= maxContext) {
                    neg = new int[] {prompt[prompt.length - 1]};
                }
                uncond = negative.forward(neg);
            }
            t1 = System.nanoTime();
            outcome = loop.run(request, sink, sequence(main, maxContext), logits,
                    guidance ? sequence(negative, maxContext) : null, uncond);
        } catch (IllegalStateException e) {
            // The engine refuses calls on a closed model; only close() can cause that here.
            if (!closed) {
                throw new ModelLoadException("Generation failed: " + e.getMessage(), "Reload the model.", e);
            }
            outcome = new TokenLoop.Outcome(StopReason.CLOSED, loop.generated(), loop.lastToken(), true);
        } finally {
            release(main, cache);
            if (negative != null) {
                release(negative, negativeCache);
            }
        }
        StopReason reason = loop.finish(outcome, decoder::flush, sink);
        long t2 = System.nanoTime();
        return new GenerationResult(stops.text(), prompt.length, outcome.generated(), reason, t1 - t0, t2 - t1);
    }

    /** {@code kept}, emptied, when the model keeps a preallocated cache; else a new session. */
    private EngineSession session(EngineSession kept) {
        if (kept == null) {
            return engine.newSession();
        }
        kept.reset();
        return kept;
    }

    private static void release(EngineSession s, EngineSession kept) {
        if (s != kept) {
            s.close();
        }
    }

    /** An engine session as the shared loop sees it. */
    private static TokenLoop.Sequence<RuntimeException> sequence(EngineSession s, int maxContext) {
        return new TokenLoop.Sequence<>() {
            @Override
            public float[] append(int token) {
                return s.forward(new int[] {token});
            }

            @Override
            public boolean full() {
                return s.position() >= maxContext;
            }
        };
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        // Waits for a running forward pass: the generation sees `closed` after it and leaves.
        turn.lock();
        try {
            if (cache != null) {
                cache.close();
            }
            if (negativeCache != null) {
                negativeCache.close();
            }
            engine.close();
            tokenizer.close();
        } finally {
            turn.unlock();
        }
        onClose.accept(this);
    }

    boolean isClosed() {
        return closed;
    }

    private void ensureOpen() throws ModelLoadException {
        if (closed) {
            throw closedError();
        }
    }

    private ModelLoadException closedError() {
        return new ModelLoadException("The model " + info.description() + " was unloaded.", "Load it again.");
    }

    @Override
    public String toString() {
        return "EngineLoadedModel[" + engine.folder() + ", " + Arrays.toString(eosIds.toArray()) + "]";
    }
}
