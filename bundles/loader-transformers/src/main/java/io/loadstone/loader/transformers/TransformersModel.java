package io.loadstone.loader.transformers;

import io.loadstone.sampling.StopStrings;
import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LogitsAccess;
import io.loadstone.api.loader.ModelInfo;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.StopReason;
import io.loadstone.api.loader.TokenSink;
import io.loadstone.engine.EngineModel;
import io.loadstone.engine.EngineSession;
import io.loadstone.sampling.SamplingSession;
import io.loadstone.tokenizer.HfTokenizer;
import io.loadstone.tokenizer.StreamDecoder;
import java.util.Arrays;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * A checkpoint loaded by the Java engine with its Hugging Face tokenizer.
 *
 * <p>Every use of the engine happens under {@code turn}, so generations run one after another
 * and {@link #close()} frees the weights only when no forward pass is running: it raises
 * {@code closed} first, which a generation checks after every token (and so ends with
 * {@link StopReason#CLOSED} within one token or one prompt pass), then takes the lock.
 */
final class TransformersModel implements LoadedModel, LogitsAccess {

    private final EngineModel engine;
    private final HfTokenizer tokenizer;
    private final ModelInfo info;
    private final Set<Integer> eosIds;
    private final int bosId;
    private final Consumer<TransformersModel> onClose;
    private final ReentrantLock turn = new ReentrantLock();
    private volatile boolean closed;

    TransformersModel(EngineModel engine, HfTokenizer tokenizer, ModelInfo info, Set<Integer> eosIds,
            Consumer<TransformersModel> onClose) {
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
            throw new ModelLoadException("Cannot detokenize: " + e.getMessage(), "Pass ids between 0 and "
                    + (tokenizer.vocabSize() - 1) + ".", e);
        } catch (IllegalStateException e) {
            throw closedError();
        }
    }

    @Override
    public Optional<LogitsAccess> logits() {
        return Optional.of(this);
    }

    @Override
    public int vocabSize() {
        return engine.config().vocabSize();
    }

    @Override
    public float[][] evaluate(int[] tokens, boolean allPositions) throws ModelLoadException {
        if (tokens.length == 0) {
            throw new ModelLoadException("No tokens to evaluate.", "Pass at least one token id.");
        }
        turn.lock();
        try {
            ensureOpen();
            try (EngineSession s = engine.newSession()) {
                return allPositions ? s.forwardAll(tokens) : new float[][] {s.forward(tokens)};
            } catch (IllegalArgumentException e) {
                throw new ModelLoadException("Cannot evaluate " + tokens.length + " tokens: " + e.getMessage(),
                        "Use ids below " + vocabSize() + " and at most " + engine.maxContext() + " tokens.", e);
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
                throw new ModelLoadException("The prompt is empty and the model has no BOS token to start from.",
                        "Give a prompt.");
            }
            prompt = new int[] {bosId};
        }
        int maxContext = engine.maxContext();
        if (prompt.length >= maxContext) {
            throw new ModelLoadException("The prompt has " + prompt.length + " tokens; the context holds "
                    + maxContext + " (max_seq_len) and generation needs room for at least one more.",
                    "Shorten the prompt (truncation length) or load the model with a larger max_seq_len.");
        }
        SamplingSession sampler;
        try {
            sampler = SamplingSession.start(request, prompt, eosIds.stream().mapToInt(Integer::intValue).toArray());
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException("Bad sampling parameters: " + e.getMessage(), "Fix the parameter.", e);
        }
        boolean guidance = sampler.settings().usesGuidance();
        StreamDecoder decoder = tokenizer.streamDecoder(prompt, true);
        StopStrings stops = new StopStrings(request.stop());
        EngineSession main = engine.newSession();
        EngineSession negative = guidance ? engine.newSession() : null;
        int generated = 0;
        long t1 = t0;
        StopReason reason = null;
        boolean sinkOpen = true;
        int lastToken = -1;
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
            while (true) {
                if (closed) {
                    reason = StopReason.CLOSED;
                    break;
                }
                if (generated >= request.maxNewTokens()) {
                    reason = StopReason.LENGTH;
                    break;
                }
                int token = guidance ? sampler.next(logits, uncond) : sampler.next(logits);
                sampler.accept(token);
                lastToken = token;
                if (!request.banEos() && eosIds.contains(token)) {
                    reason = StopReason.EOS;
                    break;
                }
                generated++;
                String piece = stops.append(decoder.push(token));
                if (!sink.accept(token, piece)) {
                    sinkOpen = false;
                    reason = StopReason.CANCELLED;
                    break;
                }
                if (stops.stopped()) {
                    reason = StopReason.STOP_STRING;
                    break;
                }
                if (generated >= request.maxNewTokens()) {
                    reason = StopReason.LENGTH;
                    break;
                }
                if (main.position() >= maxContext || (guidance && negative.position() >= maxContext)) {
                    reason = StopReason.CONTEXT_FULL;
                    break;
                }
                if (closed) {
                    reason = StopReason.CLOSED;
                    break;
                }
                logits = main.forward(new int[] {token});
                if (guidance) {
                    uncond = negative.forward(new int[] {token});
                }
            }
        } catch (IllegalStateException e) {
            // The engine refuses calls on a closed model; only close() can cause that here.
            if (!closed) {
                throw new ModelLoadException("Generation failed: " + e.getMessage(), "Reload the model.", e);
            }
            reason = StopReason.CLOSED;
        } finally {
            main.close();
            if (negative != null) {
                negative.close();
            }
        }
        if (sinkOpen && reason != StopReason.CLOSED && reason != StopReason.STOP_STRING) {
            String rest = stops.append(decoder.flush());
            rest += stops.flush();
            if (stops.stopped()) {
                reason = StopReason.STOP_STRING;
            }
            if (!rest.isEmpty()) {
                sink.accept(lastToken, rest);
            }
        }
        long t2 = System.nanoTime();
        return new GenerationResult(stops.text(), prompt.length, generated, reason, t1 - t0, t2 - t1);
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
        return "TransformersModel[" + engine.folder() + ", " + Arrays.toString(eosIds.toArray()) + "]";
    }
}
