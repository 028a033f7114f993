package io.loadstone.tokenizer;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

import org.osgi.annotation.versioning.ProviderType;

/**
 * One opened Hugging Face tokenizer. Thread-safe; {@link #close()} frees its native memory and
 * waits for calls in progress, after which every call throws {@link IllegalStateException}.
 */
@ProviderType
public interface HfTokenizer extends AutoCloseable {

    /** The folder the tokenizer was read from. */
    Path folder();

    /**
     * Token ids of {@code text}. With {@code addSpecialTokens} the model's BOS/EOS (or other
     * template tokens) are added as configured (see {@link TokenizerOptions#configBosEos()});
     * special tokens written literally in the text, such as {@code <s>}, are matched as the
     * tokenizer's added tokens say.
     */
    int[] encode(String text, boolean addSpecialTokens);

    /**
     * Text of {@code ids}; with {@code skipSpecialTokens} special tokens (BOS, EOS, ...) are left
     * out.
     *
     * @throws IllegalArgumentException when an id is outside {@code [0, vocabSize())}
     */
    String decode(int[] ids, boolean skipSpecialTokens);

    /** A decoder for a stream of generated tokens that starts with no preceding text. */
    default StreamDecoder streamDecoder(boolean skipSpecialTokens) {
        return streamDecoder(new int[0], skipSpecialTokens);
    }

    /**
     * A decoder for tokens generated after {@code context} (usually the prompt's ids): the context
     * is not emitted, but decides e.g. whether the first generated word starts with a space.
     */
    StreamDecoder streamDecoder(int[] context, boolean skipSpecialTokens);

    /** Number of token ids (the highest id in the vocabulary and added tokens, plus one). */
    int vocabSize();

    /** The id of a token's exact text (e.g. {@code "<s>"} or {@code "▁the"}). */
    OptionalInt tokenId(String token);

    /** The text of a token id as stored in the vocabulary (not decoded). */
    Optional<String> token(int id);

    /** Whether {@code id} is a special added token (skipped by {@code skipSpecialTokens}). */
    boolean isSpecial(int id);

    /** The beginning-of-sequence token id, from the tokenizer or generation config. */
    OptionalInt bosId();

    /** The end-of-sequence token id, from the tokenizer config (else the generation config). */
    OptionalInt eosId();

    /** Every id that ends generation: {@link #eosId()} plus generation_config.json's eos_token_id(s). */
    Set<Integer> eosIds();

    /**
     * Named special tokens as chat templates see them: {@code bos_token}, {@code eos_token},
     * {@code unk_token}, {@code pad_token}, ... mapped to their text.
     */
    Map<String, String> specialTokens();

    /**
     * The Jinja chat template: {@code chat_template.jinja} if present, else
     * {@code tokenizer_config.json}'s {@code chat_template} (the "default" one when it lists several).
     */
    Optional<String> chatTemplate();

    /** Frees the native tokenizer; idempotent. */
    @Override
    void close();
}
