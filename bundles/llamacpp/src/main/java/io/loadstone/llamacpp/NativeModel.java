package io.loadstone.llamacpp;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.osgi.annotation.versioning.ProviderType;

/**
 * A loaded model with one inference context (one sequence). Every method is thread-safe:
 * calls are serialised by a lock held for the duration of each native call.
 * {@link #close()} may come from any thread at any time; it waits until a native call in
 * progress has returned, then frees context, samplers, adapters and model. Calls after
 * that (or waiting for the lock while it closed) throw {@link ModelClosedException}.
 */
@ProviderType
public interface NativeModel extends InferenceContext, AutoCloseable {

    /** The GGUF file this model was loaded from. */
    Path file();

    /**
     * Warnings llama.cpp logged while loading this model (e.g. that mlock failed for lack
     * of RLIMIT_MEMLOCK), so that callers can show them instead of losing them in a log.
     */
    List<String> loadWarnings();

    // ---- vocabulary ----

    /**
     * Tokenizes {@code text}.
     *
     * @param addSpecial   add BOS (and EOS) where the model's vocabulary asks for them
     * @param parseSpecial turn special-token text such as {@code <s>} into those tokens
     */
    int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) throws LlamaException;

    /** The raw bytes of one token (pieces of a UTF-8 character may be split across tokens). */
    default byte[] tokenToPiece(int token) throws LlamaException {
        return tokenToPiece(token, false);
    }

    /** The raw bytes of one token; {@code special} renders control tokens as their text. */
    byte[] tokenToPiece(int token, boolean special) throws LlamaException;

    /**
     * Turns tokens into text as the model's tokenizer would.
     *
     * @param removeSpecial  drop a leading BOS / trailing EOS
     * @param unparseSpecial render special tokens as text instead of dropping them
     */
    String detokenize(int[] tokens, boolean removeSpecial, boolean unparseSpecial) throws LlamaException;

    int bos();

    int eos();

    /** True for end-of-generation tokens (EOS, EOT, ...). */
    boolean isEog(int token);

    /** True when the vocabulary wants BOS at the start of a prompt. */
    boolean addsBos();

    int nVocab();

    // ---- model facts ----

    /** The context window this model's context was created with. */
    @Override
    int nCtx();

    /** The batch size {@link #decode} chunks by. */
    @Override
    int nBatch();

    /** The context length the model was trained with. */
    int nCtxTrain();

    /** llama.cpp's one-line description, e.g. "llama ?B all F32". */
    String description();

    long parameterCount();

    long sizeBytes();

    /** A GGUF metadata value as a string (e.g. {@code general.architecture}). */
    Optional<String> metadata(String key) throws LlamaException;

    /** Every GGUF metadata key with its value as llama.cpp renders it (arrays abbreviated). */
    Map<String, String> metadata() throws LlamaException;

    /** The model's default chat template (Jinja), if the file has one. */
    Optional<String> chatTemplate() throws LlamaException;

    // ---- evaluation ----

    /**
     * Evaluates {@code tokens} at positions {@code firstPos, firstPos+1, ...} in chunks of
     * {@link #nBatch()}, keeping the logits of the last token ({@link #lastLogits()}).
     *
     * @throws ContextFullException when {@code firstPos + tokens.length > nCtx()} (nothing is
     *                              evaluated then) or llama.cpp finds no KV slot
     */
    @Override
    void decode(int[] tokens, int firstPos) throws LlamaException;

    /**
     * Like {@link #decode} but returns the logits after every token,
     * {@code [tokens.length][nVocab()]}.
     */
    @Override
    float[][] decodeAll(int[] tokens, int firstPos) throws LlamaException;

    /** A copy of the logits of the last token of the last {@link #decode}. */
    @Override
    float[] lastLogits() throws LlamaException;

    /** Empties the KV cache (the next decode starts at position 0). */
    @Override
    void clearKvCache() throws LlamaException;

    /**
     * Creates another context on this model's weights (no second load), with the context
     * parameters this model was opened with: its own KV cache of {@link #nCtx()} tokens and
     * its own logits. Freed by {@link SecondaryContext#close()} or with this model.
     *
     * @throws LlamaException when llama.cpp cannot allocate it (memory) or the model was loaded
     *                        vocabulary-only
     */
    SecondaryContext newContext() throws LlamaException;

    /**
     * Removes positions {@code [p0, p1)} of sequence 0 from the KV cache ({@code p1 < 0}:
     * to the end), e.g. to regenerate from a shared prompt prefix.
     *
     * @return false when llama.cpp cannot remove a part of a sequence (recurrent models)
     */
    @Override
    boolean removeFromKvCache(int p0, int p1) throws LlamaException;

    // ---- sampling ----

    /** A sampler chain for this model. */
    TokenSampler newSampler(SamplerParams params) throws LlamaException;

    // ---- LoRA ----

    /** Loads a GGUF LoRA adapter made for this model (inactive until {@link #setLora}). */
    LoraAdapter loadLora(Path adapterGguf) throws LlamaException;

    /** Activates {@code adapter} with {@code scale} (or changes its scale). */
    void setLora(LoraAdapter adapter, float scale) throws LlamaException;

    /** Deactivates {@code adapter}; false when it was not active. */
    boolean removeLora(LoraAdapter adapter) throws LlamaException;

    /** Deactivates every adapter. */
    void clearLoras() throws LlamaException;

    // ---- life cycle ----

    boolean isClosed();

    /**
     * Asks to be told when this model stops working by itself (the runner process that holds it
     * crashed or was killed); never called for {@link #close()}. Called at once when it has
     * already stopped. The default, for a model inside this process, never calls it: a crash
     * there ends the process anyway.
     *
     * @param handler receives a message for users naming the file and what the runner said last
     * @since 1.3
     */
    default void onStopped(java.util.function.Consumer<String> handler) {
    }

    /** Frees everything. Idempotent; waits for a native call in progress. */
    @Override
    void close();
}
