package io.loadstone.api.runtime;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.osgi.annotation.versioning.ProviderType;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.TokenSink;

/**
 * The runtime: the models folder, the loaders that are installed now, and the models in
 * memory. Published by the core bundle; front ends (web UI, OpenAI API, shell) use it.
 * State changes are announced to {@link ModelEventListener} services.
 */
@ProviderType
public interface ModelManager {

    /** The folder models are listed from. */
    Path modelsDir();

    /** Models found in the models folder, each with the loaders that can serve it, best first. */
    List<ModelEntry> models();

    /**
     * Why each installed loader that cannot load a model refuses it, by loader id (e.g.
     * llamacpp_HF: no tokenizer.json beside the GGUF), for menus that offer every loader.
     * Empty when every loader accepts it or there is no such model.
     *
     * @since 1.3
     */
    Map<String, String> refusals(String model);

    /** Rescans the models folder (also done automatically when it changes). */
    void refresh();

    /**
     * The settings for a model as the model menu shows them when it is selected (loader
     * defaults, then the model's metadata, then saved settings).
     *
     * @throws ModelLoadException when there is no such model
     */
    ModelSettings settings(String model) throws ModelLoadException;

    /**
     * Saves a model's loader and options (validated against the loader's specs first) to
     * {@code config-user.json} in the models folder, so they come back when it is selected.
     *
     * @return the file written
     */
    Path saveSettings(String model, String loaderId, Map<String, ?> options) throws ModelLoadException;

    /** The folder LoRA adapters are listed from ({@code loras/}). */
    Path lorasDir();

    /**
     * LoRA adapters in the loras folder, sorted: its sub-folders, except names ending in
     * {@code .txt}, {@code -np}, {@code .pt} or {@code .json} (text-generation-webui's rule).
     */
    List<String> loras();

    /**
     * Applies exactly these adapters to a loaded model, in order, replacing the previous set
     * ({@code names} empty: remove them all). Checked against the loader's LoRA support before
     * anything changes; emits {@link ModelEvent.Type#LORAS_CHANGED}.
     *
     * @param model  a loaded model's name, or null for the most recently loaded one
     * @param names  names from {@link #loras()}
     * @param scales one factor per name (1 = as trained), or null for all 1
     * @return the adapters applied now
     * @throws ModelLoadException no such model loaded, an unknown adapter name (the message
     *         lists the known ones), a loader without LoRA (or with one only, and several
     *         asked), or an adapter that does not fit; the previous set then stays applied
     */
    List<io.loadstone.api.loader.LoraAdapter> setLoras(String model, List<String> names, List<Double> scales)
            throws ModelLoadException;

    /** The adapters applied to a loaded model now (empty when none or not loaded). */
    List<io.loadstone.api.loader.LoraAdapter> loras(String model);

    /** Loaders installed right now. */
    List<LoaderInfo> loaders();

    /**
     * Loads a model. Whatever is not given comes from the model's settings as
     * {@link #settings(String)} shows them (the saved loader and options from
     * {@code config-user.json}/{@code config-user.yaml}, {@code default.loaders}, the model's
     * files, the loader's defaults), so every front end loads a model the same way; each
     * option given overrides its saved value.
     *
     * @param model    a name from {@link #models()}
     * @param loaderId a loader id, or null for the saved loader, else the configured default
     *                 for the model's format, else the best installed loader for this model
     * @param options  loader options overriding the settings (validated against the loader's specs first)
     * @return the loaded model's state
     * @throws ModelLoadException when the model, loader or options are unusable, or the
     *         load fails; a model that was loaded before stays loaded
     */
    LoadedModelState load(String model, String loaderId, Map<String, ?> options) throws ModelLoadException;

    /**
     * Loads a loaded model again with the loader and the options it was loaded with (not the
     * values they resolved to, such as threads 0 becoming the core count), whoever asks.
     *
     * @param model a loaded model's name, or null for the most recently loaded one
     * @throws ModelLoadException when it is not loaded, or the load fails (the old instance
     *         then stays loaded)
     * @since 1.3
     */
    LoadedModelState reload(String model) throws ModelLoadException;

    /** Unloads a model; false when it was not loaded. */
    boolean unload(String model);

    /** Models in memory now. */
    List<LoadedModelState> loaded();

    /** The state of one loaded model. */
    Optional<LoadedModelState> loaded(String model);

    /**
     * Generates with a loaded model.
     *
     * @param model a loaded model's name, or null for the most recently loaded one
     * @throws ModelLoadException when no such model is loaded or the request asks for
     *         a sampler the model's loader does not have
     */
    GenerationResult generate(String model, GenerationRequest request, TokenSink sink) throws ModelLoadException;

    /**
     * Tokenizes text with a loaded model's tokenizer.
     *
     * @param model      a loaded model's name, or null for the most recently loaded one
     * @param addSpecial add BOS where the model wants it
     * @throws ModelLoadException when no such model is loaded
     * @since 1.3
     */
    int[] tokenize(String model, String text, boolean addSpecial) throws ModelLoadException;

    /**
     * Turns token ids back into text with a loaded model's tokenizer.
     *
     * @param model a loaded model's name, or null for the most recently loaded one
     * @throws ModelLoadException when no such model is loaded, or an id is outside its vocabulary
     * @since 1.3
     */
    String detokenize(String model, int[] tokens) throws ModelLoadException;

    /**
     * The tokenizer and logits of a loaded model, for evaluation (perplexity).
     *
     * @param model a loaded model's name, or null for the most recently loaded one
     * @throws ModelLoadException when it is not loaded, or its loader exposes no logits
     *         (the message names the loader; the fix suggests llamacpp_HF or Transformers)
     */
    ModelLogits logits(String model) throws ModelLoadException;
}
