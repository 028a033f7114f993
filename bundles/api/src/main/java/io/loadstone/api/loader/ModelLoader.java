package io.loadstone.api.loader;

import java.util.List;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A way of loading and running models, published as an OSGi service by a loader bundle.
 *
 * <p>Register it with the service property {@link #LOADER_ID} equal to {@link #id()} so
 * that clients can filter for one loader without getting the service object.
 * Implementations must be thread-safe; {@link #detect} is called often and must be cheap
 * (read headers, never whole weight files).
 */
@ConsumerType
public interface ModelLoader {

    /** Service property holding {@link #id()}. */
    String LOADER_ID = "loadstone.loader.id";

    /**
     * Stable identifier users see and settings store, e.g. {@code "llama.cpp"},
     * {@code "Transformers"}: the names text-generation-webui uses.
     */
    String id();

    /** Human-readable name and one-line description for menus. */
    default String description() {
        return id();
    }

    /** Options this loader accepts, in display order. */
    List<OptionSpec> options();

    /** What the loaded models can do (LoRA, CFG, logits, samplers). */
    Capabilities capabilities();

    /**
     * How well this loader fits {@code source}, judged from the files (never from
     * the name alone when the files say something).
     *
     * @return a detection with score 0 when this loader cannot load it
     */
    Detection detect(ModelSource source);

    /**
     * Loads a model. Validates the files before any native code sees them.
     *
     * @param options values for {@link #options()}; missing ones take their defaults.
     *                The caller has already checked types and ranges against the specs.
     * @throws ModelLoadException with a message naming the file and the fix
     */
    LoadedModel load(ModelSource source, LoaderOptions options) throws ModelLoadException;
}
