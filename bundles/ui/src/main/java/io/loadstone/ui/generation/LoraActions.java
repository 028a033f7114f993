package io.loadstone.ui.generation;

import java.util.ArrayList;
import java.util.List;

import com.google.gson.JsonElement;

import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.ui.http.ApiException;

/**
 * Applying LoRA adapters on behalf of a client (the page's Apply LoRAs button and
 * text-generation-webui's /v1/internal/lora routes), with the failure sorted into a status:
 * no model loaded is a conflict with the server's state (409); an unknown name, a loader
 * without LoRA or an adapter that does not fit is the request's problem (400), with the
 * runtime's message, which names the known adapters or the loaders that can.
 */
public final class LoraActions {

    private LoraActions() {
    }

    public static List<LoraAdapter> apply(ModelManager manager, String model, List<String> names,
            List<Double> scales) throws ApiException {
        boolean named = model != null && !model.isBlank();
        if (named ? manager.loaded(model).isEmpty() : manager.loaded().isEmpty()) {
            throw new ApiException(409, "invalid_request_error", "no_model_loaded", named ? "model" : null,
                    (named ? "The model '" + model + "' is not loaded" : "No model is loaded")
                            + ", so no LoRA can be applied. Load a model first.");
        }
        try {
            return manager.setLoras(named ? model : null, names, scales);
        } catch (ModelLoadException e) {
            String code = e.getMessage().startsWith("There is no LoRA named") ? "lora_not_found" : "lora_refused";
            throw ApiException.badRequest("lora_names", code, e.userMessage());
        }
    }

    /** A JSON array of strings ({@code null}: none). */
    public static List<String> names(JsonElement e, String param) throws ApiException {
        List<String> out = new ArrayList<>();
        if (e == null || e.isJsonNull()) {
            return out;
        }
        if (!e.isJsonArray()) {
            throw ApiException.badRequest(param, "invalid_type", "'" + param + "' must be a list of LoRA names, "
                    + "e.g. [\"my-lora\"].");
        }
        for (JsonElement x : e.getAsJsonArray()) {
            if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isString() || x.getAsString().isBlank()) {
                throw ApiException.badRequest(param, "invalid_type", "'" + param + "' must hold LoRA names (strings), "
                        + "not " + x + ".");
            }
            out.add(x.getAsString());
        }
        return out;
    }

    /** A JSON array of numbers, or null when absent (each scale is then 1). */
    public static List<Double> scales(JsonElement e, String param) throws ApiException {
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonArray()) {
            throw ApiException.badRequest(param, "invalid_type", "'" + param + "' must be a list of numbers, one per "
                    + "LoRA, e.g. [1.0, 0.5].");
        }
        List<Double> out = new ArrayList<>();
        for (JsonElement x : e.getAsJsonArray()) {
            if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isNumber() || !Double.isFinite(x.getAsDouble())) {
                throw ApiException.badRequest(param, "invalid_type", "'" + param + "' must hold numbers, not " + x
                        + ".");
            }
            out.add(x.getAsDouble());
        }
        return out;
    }
}
