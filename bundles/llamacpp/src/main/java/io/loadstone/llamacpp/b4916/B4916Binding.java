package io.loadstone.llamacpp.b4916;

import java.nio.file.Path;

import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.binding.ArchitectureTable;
import io.loadstone.llamacpp.binding.NativeBinding;

/** The binding for llama.cpp build b4916 (java-llama.cpp 4.2.0's libjllama). */
public final class B4916Binding implements NativeBinding {

    /**
     * Opens a llama.cpp v0.5.0 library: same model code as b4916, with v0.5.0's struct layouts and
     * replaced functions (see {@link Abi}); for {@code io.loadstone.llamacpp.v0_5_0}.
     */
    public static LlamaLibrary openV050(Path library) throws LlamaException {
        return B4916Library.open(library, Abi.Build.V0_5_0);
    }

    @Override
    public String build() {
        return B4916Library.BUILD;
    }

    @Override
    public String fragmentPrefix() {
        return "io.loadstone.llamacpp-";
    }

    @Override
    public ArchitectureTable architectures() {
        return B4916Architectures.TABLE;
    }

    @Override
    public LlamaLibrary load(Path library) throws LlamaException {
        return B4916Library.open(library, Abi.Build.B4916);
    }
}
