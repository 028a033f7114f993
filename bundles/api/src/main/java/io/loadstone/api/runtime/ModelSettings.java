package io.loadstone.api.runtime;

import java.util.List;
import java.util.Map;

/**
 * The settings to show (and use) for a model when it is selected: the loader's defaults,
 * overlaid with what the model's files say (context length, RoPE, quantisation), overlaid
 * with the user's saved settings, as text-generation-webui does when a model is picked.
 *
 * @param model    the model
 * @param loader   the loader to use: saved choice, else the best detected one; null if none fits
 * @param options  option values for that loader, complete (every option of the loader)
 * @param metadata what the files say
 * @param sources  where the values came from, in order applied, e.g. "saved in config-user.json"
 */
public record ModelSettings(String model, String loader, Map<String, Object> options, ModelMetadata metadata,
        List<String> sources) {

    public ModelSettings {
        options = Map.copyOf(options);
        sources = List.copyOf(sources);
    }
}
