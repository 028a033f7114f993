package io.loadstone.api.loader;

import java.util.Optional;
import java.util.function.Consumer;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A model in memory. Thread-safe: concurrent {@link #generate} calls are serialised by
 * the implementation. {@link #close()} may be called from any thread at any time, also
 * while a generation runs: the generation then ends with {@link StopReason#CLOSED} and
 * native memory is freed only after it has left native code.
 */
@ConsumerType
public interface LoadedModel extends AutoCloseable {

    /** Facts about the loaded model (context length, vocabulary, warnings). */
    ModelInfo info();

    /** Tokenizes text with the model's tokenizer; {@code addSpecial} adds BOS where the model wants it. */
    int[] tokenize(String text, boolean addSpecial) throws ModelLoadException;

    /** Turns tokens back into text. */
    String detokenize(int[] tokens) throws ModelLoadException;

    /**
     * Generates a continuation, streaming each piece of text to {@code sink}.
     * Blocks until done, stopped by the sink, cancelled or closed.
     */
    GenerationResult generate(GenerationRequest request, TokenSink sink) throws ModelLoadException;

    /** Logits access, when {@link Capabilities#logits()} says so. */
    default Optional<LogitsAccess> logits() {
        return Optional.empty();
    }

    /**
     * Applies exactly {@code adapters}, in this order, replacing whatever was applied before (an
     * empty list removes them all). The base weights are never changed on disk. A loader whose
     * {@link Capabilities#lora()} is {@code NONE} keeps this default, which refuses; one that says
     * {@code SINGLE} refuses more than one. A generation running meanwhile finishes with the
     * adapters it started with or is ended; the next one uses the new set.
     *
     * @throws ModelLoadException an adapter does not fit this model (the message names the
     *         folder and the mismatch) or cannot be read; the previous set then stays applied
     */
    default void setLoras(java.util.List<LoraAdapter> adapters) throws ModelLoadException {
        if (adapters.isEmpty()) {
            return;
        }
        throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "lora_names",
                "The " + info().loaderId() + " loader cannot apply LoRA adapters.",
                "Use a loader that can (llama.cpp or Transformers), or clear the LoRA selection.", null);
    }

    /** The adapters applied now, in order (empty when none). */
    default java.util.List<LoraAdapter> loras() {
        return java.util.List.of();
    }

    /**
     * Asks to be told when this model stops working by itself, without anyone closing it: the
     * process that ran it died, its device was lost. The core registers once per load and then
     * unloads the model, passing the message on to users, so that lists and APIs never show a
     * model that every call would fail on. A model that has already failed calls the handler at
     * once. {@link #close()} never calls it. The default (a model that cannot fail this way)
     * ignores the handler.
     *
     * @param handler receives a message for users that says what happened and names the file
     * @since 1.3
     */
    default void onFailure(Consumer<String> handler) {
    }

    /** Frees everything this model holds (native memory, threads, mapped files). Idempotent. */
    @Override
    void close();
}
