package io.loadstone.loader.llamacpphf;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Settings of the llamacpp_HF loader (Config Admin PID {@value #PID}). */
@ObjectClassDefinition(id = LlamaCppHfConfig.PID, name = "Loadstone llamacpp_HF loader",
        description = "Where the llamacpp_HF loader finds a Hugging Face tokenizer for GGUF files that have none "
                + "next to them.")
public @interface LlamaCppHfConfig {

    String PID = "io.loadstone.loader.llamacpphf";

    /** Where `loadstone download oobabooga/llama-tokenizer` puts that repository. */
    String DEFAULT_TOKENIZER_DIR = "models/oobabooga_llama-tokenizer";

    @AttributeDefinition(name = "Default tokenizer folder", description = "Folder with tokenizer.json (and "
            + "tokenizer_config.json) used for a GGUF model whose own folder has none, as text-generation-webui's "
            + "oobabooga/llama-tokenizer convention. Relative paths are resolved against the Loadstone home folder "
            + "(framework property loadstone.home, else the working directory).")
    String tokenizer_dir() default DEFAULT_TOKENIZER_DIR;
}
