package io.loadstone.llamacpp;

import java.nio.file.Path;

import org.osgi.annotation.versioning.ProviderType;

/**
 * A LoRA adapter (GGUF, {@code general.type = adapter}) loaded for one {@link NativeModel}.
 * Activate it with {@link NativeModel#setLora}; several can be active at once, each with
 * its own scale. Freed by {@link #close()} (which first deactivates it) or with its model.
 */
@ProviderType
public interface LoraAdapter extends AutoCloseable {

    Path file();

    @Override
    void close();
}
