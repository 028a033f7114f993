package io.loadstone.ui.generation;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelEntry;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.ui.http.ApiException;

/**
 * Loading a model on behalf of a client, with the failure sorted into the right HTTP status:
 * the client's mistake (unknown model 404, unknown loader or bad option 400) before anything
 * is touched; after it, by the failure's reason (a bad file 422, a loader's own failure 500).
 */
public final class ModelActions {

    private ModelActions() {
    }

    public static ModelEntry find(ModelManager manager, String name) throws ApiException {
        if (name == null || name.isBlank()) {
            throw ApiException.badRequest("model_name", "missing_parameter", "No model given: send its name, one of "
                    + names(manager.models()) + ".");
        }
        List<ModelEntry> models = manager.models();
        return models.stream().filter(m -> m.name().equals(name)).findFirst().orElseThrow(() -> ApiException
                .notFound("model_not_found", "There is no model named '" + name + "' in " + manager.modelsDir()
                        + ". Models: " + names(models) + "."));
    }

    private static String names(List<ModelEntry> models) {
        return models.isEmpty() ? "(none: put a .gguf file or a model folder into the models folder)"
                : models.stream().map(ModelEntry::name).collect(Collectors.joining(", "));
    }

    private static String savedLoader(ModelManager manager, ModelEntry entry) {
        try {
            String saved = manager.settings(entry.name()).loader();
            return saved != null ? saved : entry.bestLoader();
        } catch (ModelLoadException e) {
            return entry.bestLoader();
        }
    }

    /**
     * Loads {@code name} with {@code loaderId} (null or blank: the saved loader, else the best
     * installed one) and {@code options} (loader option names; strings are parsed as the specs
     * say) over the model's saved settings.
     */
    public static LoadedModelState load(ModelManager manager, String name, String loaderId, Map<String, ?> options)
            throws ApiException {
        ModelEntry entry = find(manager, name);
        List<LoaderInfo> loaders = manager.loaders();
        // No loader named: the one the runtime's load will use (saved, default.loaders, best fit).
        String id = loaderId == null || loaderId.isBlank() ? savedLoader(manager, entry) : loaderId;
        if (id == null) {
            throw ApiException.badRequest("loader", "no_loader", "No installed loader can load '" + name + "'. "
                    + entry.hint());
        }
        Optional<LoaderInfo> loader = loaders.stream().filter(l -> l.id().equals(id)).findFirst();
        if (loader.isEmpty()) {
            throw ApiException.badRequest("loader", "loader_not_installed", "The loader '" + id + "' is not installed. "
                    + (loaders.isEmpty() ? "No loaders are installed: add a loader bundle on the Plugins tab or to "
                            + "the plugins folder." : "Installed: " + loaders.stream().map(LoaderInfo::id)
                                    .collect(Collectors.joining(", ")) + "."));
        }
        Map<String, Object> opts = new LinkedHashMap<>();
        if (options != null) {
            options.forEach((k, v) -> opts.put(k, v));
        }
        try {
            LoaderOptions.validate(loader.get().options(), opts);
        } catch (ModelLoadException e) {
            throw ApiException.of(e);
        }
        if (entry.candidates().stream().noneMatch(c -> c.loaderId().equals(id))) {
            throw ApiException.badRequest("loader", "loader_mismatch", "The " + id + " loader cannot load '" + name
                    + "'. " + (entry.bestLoader() != null ? "Use the " + entry.bestLoader() + " loader." : entry
                            .hint()));
        }
        try {
            return manager.load(name, id, opts);
        } catch (ModelLoadException e) {
            throw ApiException.of(e);
        }
    }
}
