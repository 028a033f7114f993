package io.loadstone.api.loader;

import org.osgi.annotation.versioning.ConsumerType;

/** Raw next-token scores, for perplexity, HF-style samplers and cross-loader checks. */
@ConsumerType
public interface LogitsAccess {

    int vocabSize();

    /**
     * Runs {@code tokens} from an empty context and returns the logits after each
     * position ({@code [tokens.length][vocabSize]}), or only after the last one
     * ({@code [1][vocabSize]}) when {@code allPositions} is false.
     */
    float[][] evaluate(int[] tokens, boolean allPositions) throws ModelLoadException;
}
