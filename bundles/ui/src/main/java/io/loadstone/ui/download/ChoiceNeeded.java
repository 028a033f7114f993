package io.loadstone.ui.download;

import com.google.gson.JsonArray;

/**
 * The repo offers several GGUF models and the user has to pick one: answered as 409 with the usual error body
 * plus {@code choices: [{file, size, parts}]}, smallest first.
 */
public final class ChoiceNeeded extends Exception {

    private static final long serialVersionUID = 1L;
    private final transient JsonArray choices;

    public ChoiceNeeded(String message, JsonArray choices) {
        super(message);
        this.choices = choices;
    }

    public JsonArray choices() {
        return choices;
    }
}
