package io.loadstone.evaluation.perplexity;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.ModelLogits;

/**
 * A model whose NLLs can be computed by hand. Vocabulary: 0 = BOS, 1 = 'a', 2 = 'b', 3 = 'c'.
 * After token t the "successor" t % 3 + 1 has probability 1/2 and each of the other three 1/6,
 * so a successor costs ln 2 and anything else ln 6. Logits are the log-probabilities (their
 * softmax is the distribution itself).
 */
final class BigramModel implements ModelLogits {

    static final double SUCC = Math.log(2);
    static final double OTHER = Math.log(6);

    final List<int[]> calls = new ArrayList<>();
    private final int contextLength;
    /** Evaluate calls after which the model "is unloaded" (-1: never). */
    int unloadAfter = -1;

    BigramModel(int contextLength) {
        this.contextLength = contextLength;
    }

    @Override
    public String model() {
        return "bigram";
    }

    @Override
    public String loaderId() {
        return "Fake";
    }

    @Override
    public Map<String, Object> options() {
        return Map.of("n_ctx", contextLength, "b", "x,y");
    }

    @Override
    public int contextLength() {
        return contextLength;
    }

    @Override
    public int vocabSize() {
        return 4;
    }

    @Override
    public int[] tokenize(String text, boolean addSpecial) {
        String letters = text.replace(" ", ""); // words of a shell command line
        int off = addSpecial ? 1 : 0;
        int[] out = new int[letters.length() + off];
        for (int i = 0; i < letters.length(); i++) {
            out[i + off] = letters.charAt(i) - 'a' + 1;
        }
        return out;
    }

    @Override
    public float[][] evaluate(int[] tokens, boolean allPositions) throws ModelLoadException {
        if (unloadAfter >= 0 && calls.size() >= unloadAfter) {
            throw new ModelLoadException("The model 'bigram' (Fake) was unloaded.", "Load it again and retry.");
        }
        if (tokens.length > contextLength) {
            throw new ModelLoadException("too long", "");
        }
        calls.add(tokens.clone());
        float[][] out = new float[tokens.length][];
        for (int j = 0; j < tokens.length; j++) {
            out[j] = new float[4];
            for (int v = 0; v < 4; v++) {
                out[j][v] = (float) -(v == tokens[j] % 3 + 1 ? SUCC : OTHER);
            }
        }
        return allPositions ? out : new float[][] {out[tokens.length - 1]};
    }
}
