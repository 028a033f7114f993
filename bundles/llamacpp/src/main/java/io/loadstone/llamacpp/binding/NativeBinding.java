package io.loadstone.llamacpp.binding;

import java.nio.file.Path;

import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaLibrary;

/**
 * The FFM binding for one llama.cpp build: struct layouts, symbol names and quirks of that
 * build live behind this interface, so a newer build arrives as one more implementation
 * (plus a fragment whose {@code Loadstone-Native-Build} header names it).
 */
public interface NativeBinding {

    /** The build this binding matches, e.g. {@code "llama.cpp-b4916"}. */
    String build();

    /** The GGUF architectures this build runs (checked in Java before a file reaches it). */
    ArchitectureTable architectures();

    /** The native fragments of this build are this prefix plus the platform, e.g. {@code io.loadstone.llamacpp-}. */
    String fragmentPrefix();

    /** Opens {@code library} (dlopen, no JNI) and initialises the llama.cpp backend once. */
    LlamaLibrary load(Path library) throws LlamaException;
}
