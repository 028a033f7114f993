package io.loadstone.core.runtime;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Global runtime settings (Config Admin PID {@value #PID}). */
@ObjectClassDefinition(id = RuntimeConfig.PID, name = "Loadstone runtime",
        description = "Where models live and how many stay in memory.")
public @interface RuntimeConfig {

    String PID = "io.loadstone.core";

    @AttributeDefinition(name = "Models folder", description = "Folder listed in the model menu: GGUF files and "
            + "model folders, as in text-generation-webui's models/. Relative paths are resolved against the "
            + "Loadstone home folder (framework property loadstone.home, else the working directory).")
    String models_dir() default "models";

    @AttributeDefinition(name = "LoRA folder", description = "Folder of LoRA adapters (loras/).")
    String loras_dir() default "loras";

    @AttributeDefinition(name = "Models kept loaded", description = "How many models may be in memory at once. "
            + "Loading one more unloads the least recently used (after the new one has loaded).")
    int max_loaded_models() default 1;

    @AttributeDefinition(name = "Model to load at start", description = "Name of a model to load when Loadstone "
            + "starts (empty: none). The first model of the folder is used when the name is '*'.")
    String model() default "";
}
