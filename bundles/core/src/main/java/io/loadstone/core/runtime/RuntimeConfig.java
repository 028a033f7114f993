package io.loadstone.core.runtime;

import io.loadstone.api.loader.LoaderOptions;
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

    @AttributeDefinition(name = "Memory budget (MB)", description = "Models in memory may together take at most "
            + "this much (estimated from their file sizes). Loading one more unloads the least recently used first, "
            + "and loads it again if the new load fails. 0: three quarters of the machine's memory.")
    long memory_budget_mb() default 0;

    @AttributeDefinition(name = "Default context cap", description = "A model's trained context length is used "
            + "as the default context (n_ctx / max_seq_len), but at most this, so a 128k-context model does not "
            + "exhaust memory on its first load. Raise the option per model when you have the memory.")
    int context_cap() default LoaderOptions.DEFAULT_CONTEXT_CAP;

    @AttributeDefinition(name = "Default loader per format", description = "Which loader to use for a model "
            + "format when several installed loaders accept it and no loader is saved for the model, as "
            + "format=loader entries: gguf, gptq, awq, exl2 or hf (a plain Hugging Face checkpoint), e.g. "
            + "gguf=llama.cpp. Without an entry the loader that fits best is used.")
    String[] default_loaders() default {};

    @AttributeDefinition(name = "Autoload", description = "Load a model as soon as it is selected in the web UI.")
    boolean autoload() default false;

    @AttributeDefinition(name = "Model to load at start", description = "Name of a model to load when Loadstone "
            + "starts (empty: none). The first model of the folder is used when the name is '*'.")
    String model() default "";
}
