package io.loadstone.llamacpp;

import java.nio.file.Path;

import org.osgi.annotation.versioning.ProviderType;

/**
 * One loaded llama.cpp native library. Registered as an OSGi service by this bundle when a
 * native fragment for the running platform is attached (service properties
 * {@link #BUILD} and {@link #PLATFORM}); obtained with {@link LlamaLibrary#load} outside OSGi.
 * Thread-safe.
 */
@ProviderType
public interface LlamaRuntime {

    /** Service property: the llama.cpp build, e.g. {@code "llama.cpp-b4916"}. */
    String BUILD = "loadstone.llamacpp.build";

    /** Service property: the platform the native library was built for, e.g. {@code "linux-x86_64"}. */
    String PLATFORM = "loadstone.llamacpp.platform";

    /** The llama.cpp build of the native library, e.g. {@code "llama.cpp-b4916"}. */
    String buildName();

    /** True when this build has a GPU backend, so {@link ModelParams#gpuLayers()} can take effect. */
    boolean supportsGpuOffload();

    /** True when models can be memory-mapped ({@link ModelParams#useMmap()}). */
    boolean supportsMmap();

    /** True when model memory can be locked in RAM ({@link ModelParams#useMlock()}). */
    boolean supportsMlock();

    /** How many devices a {@link ModelParams#tensorSplit()} may name. */
    int maxDevices();

    /** llama.cpp's own summary of the CPU features and backends it uses. */
    String systemInfo();

    /**
     * Turns on NUMA-aware thread and memory placement ("distribute") for the rest of the
     * process's life: llama.cpp allows this once and cannot undo it.
     *
     * @return true if this call enabled it, false if it was already on
     */
    boolean enableNuma();

    /**
     * Loads a GGUF model and creates its context. The caller must have validated the file
     * (native code trusts it). The model is closed with {@link NativeModel#close()}, or at
     * the latest when this runtime goes away.
     *
     * @throws LlamaException when llama.cpp refuses the file or the parameters; the
     *                        message carries llama.cpp's own reason
     */
    NativeModel open(Path gguf, ModelParams model, ContextParams context) throws LlamaException;
}
