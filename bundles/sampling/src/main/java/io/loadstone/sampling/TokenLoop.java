package io.loadstone.sampling;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.StopReason;
import io.loadstone.api.loader.TokenSink;
import java.util.function.BooleanSupplier;
import java.util.function.IntFunction;
import java.util.function.IntPredicate;

/**
 * The generation loop every logits-producing loader runs once its prompt (and, for CFG, its
 * negative prompt) is evaluated: sample, check end of sequence, turn the token into text, check
 * stop strings, hand the piece to the sink, check the limits, evaluate the token. Written once so
 * that every loader stops for the same reasons in the same order (text-generation-webui's), and
 * the GPTQ/AWQ/EXL2 loaders to come get it for free.
 *
 * <p>Not thread-safe: one loop per generation, on the loader's generation thread.
 */
public final class TokenLoop {

    /**
     * One sequence being extended: the main one, or the negative prompt's under CFG.
     *
     * @param <E> what evaluating a token may throw (the native binding's exception, or none)
     */
    public interface Sequence<E extends Exception> {

        /** Evaluates {@code token} at the next position and returns the logits after it. */
        float[] append(int token) throws E;

        /** True when no further position fits into the context. */
        boolean full();
    }

    /** How a loop ended. */
    public record Outcome(StopReason reason, int generated, int lastToken, boolean sinkOpen) {
    }

    private final SamplingSession sampler;
    private final IntPredicate eos;
    private final IntFunction<String> pieces;
    private final StopStrings stops;
    private final BooleanSupplier closed;
    private int generated;
    private int lastToken = -1;

    /**
     * @param sampler the generation's sampler
     * @param eos     the model's end-of-sequence ids (never stopping when the request bans them)
     * @param pieces  a token's text, as a streaming detokenizer gives it (may be empty mid-character)
     * @param stops   the request's stop strings; the loop feeds every piece through it
     * @param closed  true once the model is being closed: the loop ends with {@link StopReason#CLOSED}
     */
    public TokenLoop(SamplingSession sampler, IntPredicate eos, IntFunction<String> pieces, StopStrings stops,
            BooleanSupplier closed) {
        this.sampler = sampler;
        this.eos = eos;
        this.pieces = pieces;
        this.stops = stops;
        this.closed = closed;
    }

    /**
     * Generates until a stop reason. {@code logits} (and {@code uncond} with CFG) are what the
     * prompt's evaluation left; {@code negative} is null without guidance. Call once.
     */
    public <E extends Exception> Outcome run(GenerationRequest request, TokenSink sink, Sequence<E> main, float[] logits,
            Sequence<E> negative, float[] uncond) throws E {
        while (true) {
            if (closed.getAsBoolean()) {
                return new Outcome(StopReason.CLOSED, generated, lastToken, true);
            }
            if (generated >= request.maxNewTokens()) {
                return new Outcome(StopReason.LENGTH, generated, lastToken, true);
            }
            int token = negative != null ? sampler.next(logits, uncond) : sampler.next(logits);
            sampler.accept(token);
            lastToken = token;
            if (!request.banEos() && eos.test(token)) {
                return new Outcome(StopReason.EOS, generated, lastToken, true);
            }
            generated++;
            String piece = stops.append(pieces.apply(token));
            boolean stopped = stops.stopped();
            if (!sink.accept(token, piece)) {
                return new Outcome(stopped ? StopReason.STOP_STRING : StopReason.CANCELLED, generated, lastToken, false);
            }
            if (stopped) {
                return new Outcome(StopReason.STOP_STRING, generated, lastToken, true);
            }
            if (generated >= request.maxNewTokens()) {
                return new Outcome(StopReason.LENGTH, generated, lastToken, true);
            }
            if (main.full() || (negative != null && negative.full())) {
                return new Outcome(StopReason.CONTEXT_FULL, generated, lastToken, true);
            }
            if (closed.getAsBoolean()) {
                return new Outcome(StopReason.CLOSED, generated, lastToken, true);
            }
            logits = main.append(token);
            if (negative != null) {
                uncond = negative.append(token);
            }
        }
    }

    /** Tokens handed to the sink so far (also after {@link #run} threw). */
    public int generated() {
        return generated;
    }

    /** The last token sampled, or -1. */
    public int lastToken() {
        return lastToken;
    }

    /**
     * After the loop: hands the sink what the detokenizer still holds ({@code pendingText}) plus
     * the stop strings' held-back look-ahead, unless the loop ended closed, cancelled or on a stop
     * string; returns the final reason (a stop string can complete in that last text).
     */
    public StopReason finish(Outcome o, java.util.function.Supplier<String> pendingText, TokenSink sink) {
        if (!o.sinkOpen() || o.reason() == StopReason.CLOSED || o.reason() == StopReason.STOP_STRING) {
            return o.reason();
        }
        String rest = stops.append(pendingText.get());
        rest += stops.flush();
        StopReason reason = stops.stopped() ? StopReason.STOP_STRING : o.reason();
        if (!rest.isEmpty()) {
            sink.accept(o.lastToken(), rest);
        }
        return reason;
    }
}
