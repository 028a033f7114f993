package io.loadstone.llamacpp.v0_5_0;

import java.nio.file.Path;

import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.b4916.B4916Binding;
import io.loadstone.llamacpp.binding.ArchitectureTable;
import io.loadstone.llamacpp.binding.NativeBinding;

/**
 * The binding for llama.cpp v0.5.0 (2026-09) as node-llama-cpp 3.22.1 ships it: libllama plus
 * libggml with one CPU library per CPU family. The model code is b4916's; what differs (struct
 * layouts, the llama_memory and llama_set_adapters_lora calls, backend loading) is selected in
 * {@code io.loadstone.llamacpp.b4916.Abi}.
 */
public final class V050Binding implements NativeBinding {

    /** What the fragment's {@code Loadstone-Native-Build} header says. */
    public static final String BUILD = "llama.cpp-v0.5.0";

    @Override
    public String build() {
        return BUILD;
    }

    @Override
    public String fragmentPrefix() {
        return "io.loadstone.llamacpp-v050-";
    }

    @Override
    public ArchitectureTable architectures() {
        return V050Architectures.TABLE;
    }

    @Override
    public LlamaLibrary load(Path library) throws LlamaException {
        return B4916Binding.openV050(library);
    }
}
