package io.loadstone.loader.llamacpphf;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LogitsAccess;
import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelInfo;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.Sampling;
import io.loadstone.api.loader.StopReason;
import io.loadstone.api.loader.TokenSink;
import io.loadstone.llamacpp.ContextFullException;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.loading.AppliedLoras;
import io.loadstone.llamacpp.loading.CachedSequence;
import io.loadstone.llamacpp.loading.ModelFailures;
import io.loadstone.llamacpp.ModelClosedException;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.llamacpp.SecondaryContext;
import io.loadstone.sampling.SamplerSettings;
import io.loadstone.sampling.SamplingSession;
import io.loadstone.sampling.StopStrings;
import io.loadstone.sampling.TokenLoop;
import io.loadstone.tokenizer.HfTokenizer;
import io.loadstone.tokenizer.StreamDecoder;

/**
 * A GGUF model run by llama.cpp whose logits are read back into Java (through FFM,
 * {@code llama_get_logits_ith}) and sampled by the Hugging Face sampler stack, with a Hugging
 * Face tokenizer, as text-generation-webui's llamacpp_HF.
 *
 * <p>Generations and evaluations run one at a time under {@link #turn}. {@link #close()} does not
 * wait for that lock: it closes the native model (which waits only for the native call in
 * progress and frees the CFG context with it) and the tokenizer, so a running generation's next
 * call fails and it ends with {@link StopReason#CLOSED} within one token or one prompt chunk.
 *
 * <p>Each context's KV cache is kept between generations: a prompt (or negative prompt) that
 * starts like what was evaluated last time only evaluates the new tokens.
 */
final class LlamaCppHfModel implements LoadedModel, LogitsAccess {

    private final NativeModel model;
    private final HfTokenizer tokenizer;
    private final ModelInfo info;
    private final long defaultSeed;
    private final int[] eosIds;
    private final Set<Integer> eos;
    private final Consumer<LlamaCppHfModel> onClose;
    private final ReentrantLock turn = new ReentrantLock(true);
    private final CachedSequence main;
    /** The negative prompt's sequence, with cfg_cache; else null. */
    private final CachedSequence negative;
    /** The LoRA adapters applied now, in the main and the CFG context; changed under {@link #turn}. */
    private final AppliedLoras loras;
    private volatile boolean closed;

    LlamaCppHfModel(NativeModel model, SecondaryContext cfgContext, HfTokenizer tokenizer, ModelInfo info,
            long defaultSeed, Set<Integer> eos, AppliedLoras loras, Consumer<LlamaCppHfModel> onClose) {
        this.model = model;
        this.loras = loras;
        this.tokenizer = tokenizer;
        this.info = info;
        this.defaultSeed = defaultSeed;
        this.eos = Set.copyOf(eos);
        this.eosIds = eos.stream().mapToInt(Integer::intValue).sorted().toArray();
        this.onClose = onClose;
        this.main = new CachedSequence(model);
        this.negative = cfgContext == null ? null : new CachedSequence(cfgContext);
    }

    @Override
    public ModelInfo info() {
        return info;
    }

    boolean hasCfgCache() {
        return negative != null;
    }

    // ---- tokens ----

    @Override
    public int[] tokenize(String text, boolean addSpecial) throws ModelLoadException {
        ensureOpen();
        try {
            return tokenizer.encode(text, addSpecial);
        } catch (IllegalStateException e) {
            throw closedError(e);
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
            throw closedError(e);
        }
    }

    // ---- generation ----

    @Override
    public GenerationResult generate(GenerationRequest request, TokenSink sink) throws ModelLoadException {
        GenerationRequest r = withDefaultSeed(request);
        SamplerSettings settings;
        try {
            settings = SamplerSettings.of(r);
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, null,
                    "Bad sampling parameters: " + e.getMessage(), "Fix the parameter.", e);
        }
        if ((settings.usesGuidance() || !r.negativePrompt().isEmpty()) && negative == null) {
            String what = settings.usesGuidance() ? "Classifier-free guidance (guidance_scale="
                    + settings.guidanceScale() + (r.negativePrompt().isEmpty() ? "" : " with a negative prompt") + ")"
                    : "A negative prompt (classifier-free guidance)";
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "cfg_cache",
                    what + " needs a second llama.cpp context, and " + model.file().getFileName()
                    + " was loaded without cfg_cache.",
                    "Reload the model with cfg_cache checked, or set guidance_scale to 1 and clear the negative "
                            + "prompt.", null);
        }
        turn.lock();
        try {
            if (closed) {
                return new GenerationResult("", 0, 0, StopReason.CLOSED, 0, 0);
            }
            return run(r, settings.usesGuidance(), sink);
        } finally {
            turn.unlock();
        }
    }

    /** The load option {@code seed} stands in for a request that gives none (-1), as in the llama.cpp loader. */
    private GenerationRequest withDefaultSeed(GenerationRequest r) {
        if (defaultSeed < 0 || r.number(Sampling.SEED) >= 0) {
            return r;
        }
        Map<String, Object> sampling = new HashMap<>(r.sampling());
        sampling.put(Sampling.SEED, defaultSeed);
        return new GenerationRequest(r.prompt(), r.maxNewTokens(), sampling, r.stop(), r.addBos(), r.banEos(),
                r.negativePrompt());
    }

    /** One generation; runs under {@link #turn}. */
    private GenerationResult run(GenerationRequest r, boolean guidance, TokenSink sink) throws ModelLoadException {
        long t0 = System.nanoTime();
        int[] prompt;
        try {
            prompt = tokenizer.encode(r.prompt(), r.addBos());
        } catch (IllegalStateException e) {
            return new GenerationResult("", 0, 0, StopReason.CLOSED, 0, 0);
        }
        if (prompt.length == 0) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "prompt",
                    "The prompt is empty and the tokenizer adds no BOS token, so there is "
                    + "nothing to continue from.", "Give a non-empty prompt.", null);
        }
        int nCtx = model.nCtx();
        if (prompt.length > nCtx) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "prompt",
                    "The prompt has " + prompt.length
                    + " tokens, more than the context length n_ctx=" + nCtx + " of this load.",
                    "Shorten the prompt, or reload the model with a larger n_ctx.", null);
        }
        SamplingSession sampler;
        try {
            sampler = SamplingSession.start(r, prompt, eosIds);
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, null,
                    "Bad sampling parameters: " + e.getMessage(), "Fix the parameter.", e);
        }
        StopStrings stops = new StopStrings(r.stop());
        long t1 = 0;
        StreamDecoder decoder = null;
        TokenLoop loop = null;
        TokenLoop.Outcome outcome;
        try {
            StreamDecoder d = tokenizer.streamDecoder(prompt, true);
            decoder = d;
            loop = new TokenLoop(sampler, eos::contains, d::push, stops, () -> closed);
            float[] logits = main.prefill(prompt);
            float[] uncond = null;
            if (guidance) {
                // As transformers' UnbatchedClassifierFreeGuidanceLogitsProcessor (and the Transformers
                // loader): the negative prompt, or the last prompt token alone when there is none,
                // continued with the same generated tokens.
                int[] neg = r.negativePrompt().isEmpty() ? new int[0] : tokenizer.encode(r.negativePrompt(),
                        r.addBos());
                if (neg.length == 0 || neg.length >= nCtx) {
                    neg = new int[] {prompt[prompt.length - 1]};
                }
                uncond = negative.prefill(neg);
            }
            t1 = System.nanoTime();
            outcome = loop.run(r, sink, sequence(main, nCtx), logits, guidance ? sequence(negative, nCtx) : null,
                    uncond);
        } catch (ModelClosedException e) {
            outcome = interrupted(loop, StopReason.CLOSED);
        } catch (io.loadstone.sampling.InvalidLogitsException e) {
            // NaN/inf logits come from the weights, not from the request: the file's problem (4xx).
            forgetAll();
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, model.file().getFileName().toString(),
                    model.file().getFileName() + ": " + e.getMessage(), "Download the file again, or use another "
                            + "quantisation of the model.", e);
        } catch (ContextFullException e) {
            outcome = interrupted(loop, StopReason.CONTEXT_FULL);
        } catch (LlamaException e) {
            if (!closed) {
                forgetAll();
                throw failure("generate", e);
            }
            outcome = interrupted(loop, StopReason.CLOSED);
        } catch (IllegalStateException e) {
            // The tokenizer refuses calls once closed; only close() does that here.
            if (!closed) {
                forgetAll();
                throw new ModelLoadException("Generation failed: " + e.getMessage(), "Reload the model.", e);
            }
            outcome = interrupted(loop, StopReason.CLOSED);
        }
        if (outcome.reason() == StopReason.CLOSED) {
            forgetAll();
        }
        StopReason reason = outcome.reason();
        if (loop != null && decoder != null) {
            StreamDecoder d = decoder;
            reason = loop.finish(outcome, () -> {
                try {
                    return d.flush();
                } catch (IllegalStateException e) {
                    return "";
                }
            }, sink);
        }
        long t2 = System.nanoTime();
        if (t1 == 0) {
            t1 = t2;
        }
        return new GenerationResult(stops.text(), prompt.length, outcome.generated(), reason, t1 - t0, t2 - t1);
    }

    /** How a loop that an exception ended stands (the loop may not have started). */
    private static TokenLoop.Outcome interrupted(TokenLoop loop, StopReason reason) {
        return loop == null ? new TokenLoop.Outcome(reason, 0, -1, true)
                : new TokenLoop.Outcome(reason, loop.generated(), loop.lastToken(), true);
    }

    /** After an error or a close the caches' contents are unknown: the next prompt starts afresh. */
    private void forgetAll() {
        main.forget();
        if (negative != null) {
            negative.forget();
        }
    }

    /** A llama.cpp context as the shared loop sees it. */
    private static TokenLoop.Sequence<LlamaException> sequence(CachedSequence s, int nCtx) {
        return new TokenLoop.Sequence<>() {
            @Override
            public float[] append(int token) throws LlamaException {
                return s.append(token);
            }

            @Override
            public boolean full() {
                return s.position() >= nCtx;
            }
        };
    }

    // ---- LoRA ----

    /**
     * Under {@link #turn}: a running generation finishes with the adapters it started with. When
     * the set changes both KV-prefix caches (the prompt's and the negative prompt's) are forgotten,
     * since their keys and values were computed with other weights.
     */
    @Override
    public void setLoras(List<LoraAdapter> adapters) throws ModelLoadException {
        turn.lock();
        try {
            ensureOpen();
            boolean changed = true;
            try {
                changed = loras.apply(adapters);
            } finally {
                if (changed) {
                    forgetAll();
                }
            }
        } finally {
            turn.unlock();
        }
    }

    @Override
    public List<LoraAdapter> loras() {
        return loras.requested();
    }

    /** For tests: how many adapters llama.cpp holds for this model. */
    int loadedLoraCount() {
        return loras.loadedCount();
    }

    // ---- logits ----

    @Override
    public Optional<LogitsAccess> logits() {
        return Optional.of(this);
    }

    @Override
    public int vocabSize() {
        return model.nVocab();
    }

    @Override
    public float[][] evaluate(int[] tokens, boolean allPositions) throws ModelLoadException {
        turn.lock();
        try {
            ensureOpen();
            return main.evaluateFromEmpty(tokens, allPositions);
        } catch (LlamaException e) {
            main.forget();
            throw failure("evaluate logits", e);
        } finally {
            turn.unlock();
        }
    }

    // ---- life cycle ----

    private ModelLoadException failure(String what, LlamaException e) {
        return ModelFailures.of(model.file(), what, e, closed);
    }

    private void ensureOpen() throws ModelLoadException {
        if (closed) {
            throw closedError(null);
        }
    }

    private ModelLoadException closedError(Exception cause) {
        return ModelFailures.unloaded(model.file(), cause);
    }

    boolean isClosed() {
        return closed;
    }

    /** The runner of the native model died: the core unloads this model with the runner's last words. */
    @Override
    public void onFailure(Consumer<String> handler) {
        model.onStopped(message -> {
            if (!closed) {
                handler.accept(message);
            }
        });
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        // Waits only for a native call in progress; frees the CFG context with the model.
        model.close();
        tokenizer.close();
        onClose.accept(this);
    }

    @Override
    public String toString() {
        return "LlamaCppHfModel[" + model.file() + ", tokenizer " + tokenizer.folder() + "]";
    }
}
