package io.loadstone.tokenizer.hf;

import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The id/token tables of a tokenizer.json. The native library does not expose them, and they are
 * needed to validate ids before they reach it (an id it cannot map is not an error there, it is
 * silently dropped) and to resolve the config's named special tokens to ids.
 */
public final class Vocabulary {

    private final String[] tokens;
    private final Map<String, Integer> ids;
    private final BitSet special;

    Vocabulary(Map<String, Integer> modelVocab, Map<String, Integer> added, BitSet special) {
        int size = 0;
        for (int id : modelVocab.values()) {
            size = Math.max(size, id + 1);
        }
        for (int id : added.values()) {
            size = Math.max(size, id + 1);
        }
        this.tokens = new String[size];
        this.ids = new HashMap<>(modelVocab.size() + added.size());
        modelVocab.forEach((token, id) -> {
            tokens[id] = token;
            ids.put(token, id);
        });
        // Added tokens win: the library matches them before the model sees the text.
        added.forEach((token, id) -> {
            tokens[id] = token;
            ids.put(token, id);
        });
        this.special = (BitSet) special.clone();
    }

    public int size() {
        return tokens.length;
    }

    public OptionalInt id(String token) {
        Integer id = ids.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    public Optional<String> token(int id) {
        return id >= 0 && id < tokens.length ? Optional.ofNullable(tokens[id]) : Optional.empty();
    }

    public boolean isSpecial(int id) {
        return id >= 0 && special.get(id);
    }

    /** Number of ids with a token (holes in the id range do not count). */
    public long assigned() {
        return Arrays.stream(tokens).filter(t -> t != null).count();
    }
}
