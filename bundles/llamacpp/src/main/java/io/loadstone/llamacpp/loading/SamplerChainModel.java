package io.loadstone.llamacpp.loading;

import io.loadstone.sampling.StopStrings;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
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
import io.loadstone.llamacpp.ModelClosedException;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.llamacpp.SamplerParams;
import io.loadstone.llamacpp.TokenSampler;

/**
 * A GGUF model loaded by llama.cpp that generates with llama.cpp's own sampler chain, for the
 * loaders that sample natively ({@code llama.cpp}, {@code ctransformers}); a {@link Profile}
 * says which loader it is, which sampler parameters it honours and whether it takes LoRAs.
 * Generations (and logits evaluations, which share the
 * KV cache) run one at a time under {@link #turn}. {@link #close()} does not wait for that
 * lock: it closes the native model, which waits only for the native call in progress and
 * makes the generation's next call fail, so the generation ends with
 * {@link StopReason#CLOSED} within one token (or one prompt chunk of n_batch tokens).
 *
 * <p>The KV cache is kept between generations: a prompt that starts like the previous
 * prompt plus its output (a chat) only evaluates the new tokens.
 */
public final class SamplerChainModel implements LoadedModel, LogitsAccess {

    /**
     * What differs between the loaders that use this class.
     *
     * @param loader   the loader's name, as messages show it
     * @param samplers the sampler parameters it honours; any other that is set is refused
     * @param noCfgFix what to do instead of classifier-free guidance, which none of them has
     */
    public record Profile(String loader, Set<String> samplers, String noCfgFix) {

        public Profile {
            samplers = Set.copyOf(samplers);
        }
    }

    private final NativeModel model;
    private final Profile profile;
    private final ModelInfo info;
    private final long defaultSeed;
    private final List<Integer> eogTokens;
    private final Consumer<SamplerChainModel> onClose;
    private final ReentrantLock turn = new ReentrantLock(true);
    private volatile boolean closed;

    /** What the KV cache holds, reused by the next prompt that starts the same way; guarded by {@link #turn}. */
    private final CachedSequence sequence;
    /** The LoRA adapters applied now; changed under {@link #turn}. Null: the loader takes none. */
    private final AppliedLoras loras;

    /** {@code loras} null: the loader has no LoRA support and refuses any adapter. */
    public SamplerChainModel(NativeModel model, Profile profile, ModelInfo info, long defaultSeed,
            AppliedLoras loras, Consumer<SamplerChainModel> onClose) {
        this.model = model;
        this.profile = profile;
        this.loras = loras;
        this.info = info;
        this.defaultSeed = defaultSeed;
        this.onClose = onClose;
        this.sequence = new CachedSequence(model);
        List<Integer> eog = new ArrayList<>();
        for (int t = 0; t < model.nVocab(); t++) {
            if (model.isEog(t)) {
                eog.add(t);
            }
        }
        this.eogTokens = List.copyOf(eog);
    }

    @Override
    public ModelInfo info() {
        return info;
    }

    // ---- tokens ----

    @Override
    public int[] tokenize(String text, boolean addSpecial) throws ModelLoadException {
        try {
            return model.tokenize(text, addSpecial, true);
        } catch (LlamaException e) {
            throw failure("tokenize", e);
        }
    }

    @Override
    public String detokenize(int[] tokens) throws ModelLoadException {
        // Drop a leading BOS ourselves: b4916 keeps SentencePiece's prefix space when it drops
        // BOS, while Hugging Face tokenizers (and users) expect tokenize/detokenize to round-trip.
        int from = 0;
        while (from < tokens.length && tokens[from] == model.bos() && model.addsBos()) {
            from++;
        }
        try {
            return model.detokenize(Arrays.copyOfRange(tokens, from, tokens.length), true, false);
        } catch (LlamaException e) {
            throw failure("detokenize", e);
        }
    }

    // ---- generation ----

    @Override
    public GenerationResult generate(GenerationRequest request, TokenSink sink) throws ModelLoadException {
        SamplerParams params = samplerParams(request);
        turn.lock();
        try {
            if (closed) {
                return new GenerationResult("", 0, 0, StopReason.CLOSED, 0, 0);
            }
            return run(request, params, sink);
        } finally {
            turn.unlock();
        }
    }

    /** Maps a request to a llama.cpp sampler chain, refusing parameters it cannot honour. */
    SamplerParams samplerParams(GenerationRequest r) throws ModelLoadException {
        if (!r.negativePrompt().isEmpty() || r.number(Sampling.GUIDANCE_SCALE) != 1) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "guidance_scale",
                    "The " + profile.loader() + " loader has no classifier-free guidance "
                    + "(negative prompt, guidance_scale=" + r.number(Sampling.GUIDANCE_SCALE) + ").",
                    profile.noCfgFix(), null);
        }
        Set<String> unsupported = new TreeSet<>(r.setParameters().keySet());
        unsupported.removeAll(profile.samplers());
        if (!unsupported.isEmpty()) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, null,
                    "The " + profile.loader() + " loader cannot apply " + unsupported + ".",
                    "Reset them to their neutral values, or use a loader that has them (e.g. Transformers).", null);
        }
        int mirostat = (int) r.number(Sampling.MIROSTAT_MODE);
        if (mirostat < 0 || mirostat > 2) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "mirostat_mode",
                    "mirostat_mode must be 0, 1 or 2, not " + mirostat + ".", "Use 0, 1 or 2.", null);
        }
        long seed = (long) r.number(Sampling.SEED);
        if (seed < 0) {
            seed = defaultSeed;
        }
        long range = (long) r.number(Sampling.REPETITION_PENALTY_RANGE);
        int topK = (int) Math.max(0, r.number(Sampling.TOP_K));
        // text-generation-webui: repetition_penalty_range 0 = the whole context (llama.cpp: -1).
        int lastN = range <= 0 ? -1 : (int) Math.min(range, Integer.MAX_VALUE);
        return new SamplerParams(r.isGreedy(), seed, (float) r.number(Sampling.TEMPERATURE), topK,
                (float) r.number(Sampling.TOP_P), (float) r.number(Sampling.MIN_P),
                (float) r.number(Sampling.TYPICAL_P),
                lastN, (float) r.number(Sampling.REPETITION_PENALTY), (float) r.number(Sampling.FREQUENCY_PENALTY),
                (float) r.number(Sampling.PRESENCE_PENALTY), mirostat, (float) r.number(Sampling.MIROSTAT_TAU),
                (float) r.number(Sampling.MIROSTAT_ETA), r.banEos() ? eogTokens : List.of());
    }

    /** One generation; runs under {@link #turn}. */
    private GenerationResult run(GenerationRequest r, SamplerParams params, TokenSink sink) throws ModelLoadException {
        long t0 = System.nanoTime();
        int[] prompt;
        try {
            prompt = model.tokenize(r.prompt(), r.addBos(), true);
        } catch (ModelClosedException e) {
            return new GenerationResult("", 0, 0, StopReason.CLOSED, 0, 0);
        } catch (LlamaException e) {
            throw failure("tokenize the prompt", e);
        }
        if (prompt.length == 0) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "prompt",
                    "The prompt is empty and the model adds no BOS token, so there is nothing "
                    + "to continue from.", "Give a non-empty prompt.", null);
        }
        int nCtx = model.nCtx();
        if (prompt.length > nCtx) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "prompt",
                    "The prompt has " + prompt.length
                    + " tokens, more than the context length n_ctx=" + nCtx + " of this load.",
                    "Shorten the prompt, or reload the model with a larger n_ctx.", null);
        }
        StopStrings stops = new StopStrings(r.stop());
        Utf8Pieces utf8 = new Utf8Pieces();
        int generated = 0;
        long promptNanos = 0;
        StopReason reason = null;
        int lastToken = -1;
        boolean sinkOpen = true;
        try (TokenSampler sampler = model.newSampler(params)) {
            // Penalties look at the prompt too, as in text-generation-webui and Transformers.
            if (params.hasPenalties()) {
                for (int t : prompt) {
                    sampler.accept(t);
                }
            }
            sequence.prefillNoLogits(prompt);
            promptNanos = System.nanoTime() - t0;
            while (reason == null) {
                if (closed) {
                    reason = StopReason.CLOSED;
                    break;
                }
                if (generated >= r.maxNewTokens()) {
                    reason = StopReason.LENGTH;
                    break;
                }
                int token = sampler.sample();
                if (model.isEog(token) && !r.banEos()) {
                    reason = StopReason.EOS;
                    break;
                }
                generated++;
                lastToken = token;
                String piece = stops.append(utf8.push(model.tokenToPiece(token, false)));
                if (stops.stopped()) {
                    reason = StopReason.STOP_STRING;
                }
                if (!sink.accept(token, piece)) {
                    sinkOpen = false;
                    reason = reason == null ? StopReason.CANCELLED : reason;
                    break;
                }
                if (reason != null) {
                    break;
                }
                if (generated >= r.maxNewTokens()) {
                    reason = StopReason.LENGTH;
                    break;
                }
                if (sequence.position() >= nCtx) {
                    reason = StopReason.CONTEXT_FULL;
                    break;
                }
                sequence.advance(token);
            }
        } catch (ModelClosedException e) {
            reason = StopReason.CLOSED;
        } catch (ContextFullException e) {
            reason = StopReason.CONTEXT_FULL;
        } catch (LlamaException e) {
            if (closed) {
                reason = StopReason.CLOSED;
            } else {
                throw failure("generate", e);
            }
        } finally {
            // After an error or a close the cache state is unknown: start afresh next time.
            if (reason == null || reason == StopReason.CLOSED) {
                sequence.forget();
            }
        }
        if (reason != StopReason.STOP_STRING) {
            String rest = stops.append(utf8.flush());
            rest += stops.flush();
            if (!rest.isEmpty() && sinkOpen && reason != StopReason.CLOSED) {
                sink.accept(lastToken, rest);
            }
        }
        if (promptNanos == 0) {
            promptNanos = System.nanoTime() - t0;
        }
        long genNanos = System.nanoTime() - t0 - promptNanos;
        return new GenerationResult(stops.text(), prompt.length, generated, reason, promptNanos, genNanos);
    }

    // ---- LoRA ----

    /**
     * Under {@link #turn}: a running generation finishes with the adapters it started with. When
     * the set changes the KV-prefix cache is forgotten, since its keys and values were computed
     * with other weights.
     */
    @Override
    public void setLoras(List<LoraAdapter> adapters) throws ModelLoadException {
        if (loras == null) {
            if (adapters.isEmpty()) {
                return;
            }
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "lora_names",
                    "The " + profile.loader() + " loader has no LoRA support (as in "
                    + "text-generation-webui).", "Load the model with the llama.cpp loader, which applies LoRAs at "
                            + "run time, or merge the adapter into the model before converting it to GGUF.", null);
        }
        turn.lock();
        try {
            if (closed) {
                throw ModelFailures.unloaded(model.file(), null);
            }
            boolean changed = true;
            try {
                changed = loras.apply(adapters);
            } finally {
                if (changed) {
                    sequence.forget();
                }
            }
        } finally {
            turn.unlock();
        }
    }

    @Override
    public List<LoraAdapter> loras() {
        return loras == null ? List.of() : loras.requested();
    }

    /** For tests: how many adapters llama.cpp holds for this model. */
    public int loadedLoraCount() {
        return loras == null ? 0 : loras.loadedCount();
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
            return sequence.evaluateFromEmpty(tokens, allPositions);
        } catch (LlamaException e) {
            throw failure("evaluate logits", e);
        } finally {
            turn.unlock();
        }
    }

    // ---- life cycle ----

    private ModelLoadException failure(String what, LlamaException e) {
        return ModelFailures.of(model.file(), what, e, closed);
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
        model.close();
        onClose.accept(this);
    }
}
