package io.loadstone.loader.llamacpphf;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import io.loadstone.api.loader.ModelLoadException;

/**
 * Where the Hugging Face tokenizer of a GGUF model is: {@code tokenizer.json} in the GGUF
 * file's own folder first (text-generation-webui's llamacpp_HF layout: the .gguf plus the
 * original repository's tokenizer files), else the configured default folder (the
 * {@code oobabooga/llama-tokenizer} convention for Llama models).
 *
 * @param defaultFolder the configured default tokenizer folder, absolute
 */
record TokenizerLookup(Path defaultFolder) {

    static final String TOKENIZER_JSON = "tokenizer.json";

    /** A tokenizer folder and whether it is the GGUF file's own. */
    record Found(Path folder, boolean nextToModel) {
    }

    Optional<Found> find(Path gguf) {
        Path own = gguf.toAbsolutePath().getParent();
        if (own != null && Files.isRegularFile(own.resolve(TOKENIZER_JSON))) {
            return Optional.of(new Found(own, true));
        }
        if (Files.isRegularFile(defaultFolder.resolve(TOKENIZER_JSON))) {
            return Optional.of(new Found(defaultFolder, false));
        }
        return Optional.empty();
    }

    /** Like {@link #find} but refuses with where it looked and how to fix it. */
    Found require(Path gguf) throws ModelLoadException {
        Optional<Found> f = find(gguf);
        if (f.isPresent()) {
            return f.get();
        }
        Path own = gguf.toAbsolutePath().getParent();
        throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, "tokenizer.json",
                "The llamacpp_HF loader found no Hugging Face tokenizer for " + gguf.getFileName()
                + ": there is no " + TOKENIZER_JSON + " next to it (in " + own + ") nor in the default tokenizer "
                + "folder " + defaultFolder + ".", "Copy tokenizer.json and tokenizer_config.json from the model's "
                + "original Hugging Face repository into " + own + ", or for Llama-family models run "
                + "`distribution/loadstone download oobabooga/llama-tokenizer` (or set tokenizer.dir of "
                + LlamaCppHfConfig.PID + "); or use the llama.cpp loader, which needs no tokenizer files.", null);
    }
}
