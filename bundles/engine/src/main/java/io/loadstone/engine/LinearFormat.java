package io.loadstone.engine;

import io.loadstone.api.loader.ModelLoadException;
import java.util.Optional;
import java.util.function.Function;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Teaches the engine a weight format for linear layers (GPTQ, AWQ, EXL2, …) while the engine
 * keeps the graph, embeddings, norms, RoPE and KV cache. A loader bundle passes one with
 * {@link EngineOptions.Builder#linearFormat}; the engine then also accepts a {@code config.json}
 * that has a {@code quantization_config}.
 */
@ConsumerType
public interface LinearFormat {

    /** Short name for logs, e.g. "gptq". */
    String name();

    /**
     * The weights of the linear layer at Hugging Face module path {@code prefix} (e.g.
     * {@code model.layers.0.self_attn.q_proj}), which must have {@code rows × cols} weights; or
     * {@code null} to let the engine read a plain {@code prefix + ".weight"} itself (layers left
     * unquantized). Biases ({@code prefix + ".bias"}) are always read by the engine.
     *
     * @param tensors looks up tensors of the checkpoint by name
     * @throws ModelLoadException the layer's tensors are missing or inconsistent (name the file)
     */
    LinearWeights load(String prefix, int rows, int cols, Function<String, Optional<CheckpointTensor>> tensors)
            throws ModelLoadException;
}
