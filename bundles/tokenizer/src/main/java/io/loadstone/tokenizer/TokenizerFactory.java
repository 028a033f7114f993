package io.loadstone.tokenizer;

import java.nio.file.Path;

import org.osgi.annotation.versioning.ProviderType;

/**
 * Opens the tokenizer of a Hugging Face model folder. Registered as a service while a native
 * library for this platform is available; safe to call from any thread.
 */
@ProviderType
public interface TokenizerFactory {

    /** Service property: the native build the factory runs on, e.g. {@code djl-tokenizers-0.36.0}. */
    String BUILD = "loadstone.tokenizer.build";

    /** Service property: the platform of the native library, e.g. {@code linux-x86_64}. */
    String PLATFORM = "loadstone.tokenizer.platform";

    /**
     * Reads {@code tokenizer.json} from {@code folder} (or {@code folder} itself when it names that
     * file), plus {@code tokenizer_config.json}, {@code special_tokens_map.json},
     * {@code generation_config.json} and {@code chat_template.jinja} when present. Nothing is
     * downloaded.
     *
     * @throws TokenizerException when {@code tokenizer.json} is missing, unreadable or not a valid
     *                            tokenizer, or a companion file is corrupt; the message names the file
     */
    HfTokenizer open(Path folder, TokenizerOptions options) throws TokenizerException;

    /** {@link #open(Path, TokenizerOptions)} with {@link TokenizerOptions#DEFAULTS}. */
    default HfTokenizer open(Path folder) throws TokenizerException {
        return open(folder, TokenizerOptions.DEFAULTS);
    }

    /** The native build behind this factory, e.g. {@code djl-tokenizers-0.36.0}. */
    String nativeBuild();
}
