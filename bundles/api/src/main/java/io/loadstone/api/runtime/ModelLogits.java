package io.loadstone.api.runtime;

import java.util.Map;

import org.osgi.annotation.versioning.ProviderType;

import io.loadstone.api.loader.ModelLoadException;

/**
 * A loaded model's tokenizer and logits, for evaluation (perplexity) and cross-loader
 * checks. Obtained from {@link ModelManager#logits(String)}; it stays bound to that one
 * load: when the model is unloaded (by the user, by eviction, or because its loader went
 * away) every further call, and one that is running, ends with a
 * {@link ModelLoadException} instead of touching freed memory.
 */
@ProviderType
public interface ModelLogits {

    /** The loaded model's name. */
    String model();

    /** The loader that loaded it. */
    String loaderId();

    /** The option values this load actually used. */
    Map<String, Object> options();

    /** Tokens of context this load allows (n_ctx); longer sequences are refused by {@link #evaluate}. */
    int contextLength();

    /** Length of each logits row. */
    int vocabSize();

    /** Tokenizes text with the model's tokenizer; {@code addSpecial} adds BOS where the model wants it. */
    int[] tokenize(String text, boolean addSpecial) throws ModelLoadException;

    /**
     * Runs {@code tokens} from an empty context and returns the logits after each position
     * ({@code [tokens.length][vocabSize]}), or only after the last one ({@code [1][vocabSize]})
     * when {@code allPositions} is false.
     */
    float[][] evaluate(int[] tokens, boolean allPositions) throws ModelLoadException;
}
