package io.loadstone.engine;

import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.engine.llama.LlamaModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.osgi.annotation.versioning.ProviderType;

/**
 * A loaded checkpoint: mapped weights, configuration and the compute threads. Thread-safe;
 * several {@linkplain #newSession() sessions} may run on it at the same time.
 *
 * <p>{@link #close()} stops the threads and unmaps the files; sessions of a closed model fail
 * with {@link IllegalStateException}.
 */
@ProviderType
public interface EngineModel extends AutoCloseable {

    /**
     * Opens a Hugging Face checkpoint folder: {@code config.json} plus {@code model.safetensors},
     * or shards listed in {@code model.safetensors.index.json}.
     *
     * @throws ModelFileException a file is missing, corrupt or inconsistent with the config (the
     *                            message names it)
     * @throws ModelLoadException the model cannot be run with these options
     */
    static EngineModel open(Path folder, EngineOptions options) throws ModelLoadException {
        return LlamaModel.open(folder, options);
    }

    /** The folder this model was opened from. */
    Path folder();

    ModelConfig config();

    EngineOptions options();

    /** The effective context limit (positions per session). */
    int maxContext();

    /** The safetensors {@code __metadata__} entries of all weight files (e.g. {@code format=pt}). */
    Map<String, String> metadata();

    /** Bytes of weights the model reads per token: mapped file ranges plus any quantized copies. */
    long weightBytes();

    /** Which weights are in memory and which stay mapped from disk (see {@link EngineOptions#memoryBudget()}). */
    WeightPlacement placement();

    /**
     * Applies exactly {@code adapters} (PEFT LoRA folders), in order, on top of the base weights,
     * which stay unchanged: each adapted linear layer computes {@code W·x + Σ scale·(α/r)·B·(A·x)}.
     * An empty list restores the base model exactly. The change waits for running forward passes
     * and applies to the next; a session whose KV cache holds positions computed under the previous
     * set refuses to continue ({@link IllegalStateException}) until it is {@linkplain EngineSession#reset() reset}.
     *
     * @throws ModelFileException an adapter is unreadable, unsupported or made for another model
     *                            (the message names the folder and the tensor); the previous set
     *                            then stays applied
     * @since 1.2
     */
    void setLoras(List<LoraAdapter> adapters) throws ModelLoadException;

    /** The adapters applied now, in order (empty when none). @since 1.2 */
    List<LoraAdapter> loras();

    /** A new, empty session (own KV cache). */
    EngineSession newSession();

    /** Stops the compute threads and unmaps the weights. Idempotent. */
    @Override
    void close();
}
