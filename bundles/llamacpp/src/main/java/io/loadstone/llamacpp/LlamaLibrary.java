package io.loadstone.llamacpp;

import java.nio.file.Path;
import java.util.Set;

import io.loadstone.llamacpp.binding.NativeBindings;

/**
 * A native library loaded by its owner, outside OSGi (unit tests, benchmarks, tools).
 * Inside OSGi use the {@link LlamaRuntime} service instead: this bundle then loads a
 * private copy of the fragment's library itself.
 */
public interface LlamaLibrary extends AutoCloseable {

    /** The API over this library. */
    LlamaRuntime runtime();

    /** The library file that was opened. */
    Path path();

    /**
     * Closes every model still open, detaches llama.cpp's logging from Java and releases
     * the library. Idempotent. (Most llama.cpp builds cannot be unmapped from the process;
     * the loader then keeps the code, never the models.)
     */
    @Override
    void close();

    /**
     * Opens {@code library} with the binding for {@code buildName}.
     *
     * @param library   the llama.cpp shared library (e.g. {@code libjllama.so})
     * @param buildName the build it is, as a fragment's {@code Loadstone-Native-Build} header says
     * @throws LlamaException no binding for that build, or the library cannot be opened or
     *                        lacks a function the binding needs
     */
    static LlamaLibrary load(Path library, String buildName) throws LlamaException {
        return NativeBindings.load(library, buildName);
    }

    /** The builds this bundle has bindings for, e.g. {@code [llama.cpp-b4916]}. */
    static Set<String> supportedBuilds() {
        return NativeBindings.builds();
    }
}
