package io.loadstone.engine;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * What the engine read from {@code config.json} and the weights.
 *
 * @param modelType             {@code model_type}: llama, mistral or qwen2
 * @param architecture          first entry of {@code architectures}, e.g. LlamaForCausalLM
 * @param hiddenSize            {@code hidden_size}
 * @param intermediateSize      {@code intermediate_size} (MLP width)
 * @param numLayers             {@code num_hidden_layers}
 * @param numHeads              {@code num_attention_heads}
 * @param numKvHeads            {@code num_key_value_heads} (GQA; equals numHeads without it)
 * @param headDim               {@code head_dim}, or hiddenSize / numHeads
 * @param vocabSize             {@code vocab_size} (length of the logits)
 * @param maxPositionEmbeddings {@code max_position_embeddings}
 * @param rmsNormEps            {@code rms_norm_eps}
 * @param ropeTheta             {@code rope_theta} (10000 when absent)
 * @param ropeScaling           the config's {@code rope_scaling} in words ("none", "linear x2", "llama3 x8")
 * @param tieWordEmbeddings     lm_head shares the embedding matrix
 * @param attentionBias         q/k/v projections have biases (qwen2, or {@code attention_bias})
 * @param slidingWindow         attention window in positions, 0 when attention is full
 * @param bosTokenId            {@code bos_token_id}, -1 when absent
 * @param eosTokenIds           {@code eos_token_id} (one or several), empty when absent
 * @param weightType            stored type of the linear weights: F32, F16, BF16 (or "mixed")
 * @param parameterCount        number of weights in the checkpoint tensors the model uses
 */
@ProviderType
public record ModelConfig(
        String modelType,
        String architecture,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        int vocabSize,
        int maxPositionEmbeddings,
        double rmsNormEps,
        double ropeTheta,
        String ropeScaling,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        int slidingWindow,
        int bosTokenId,
        List<Integer> eosTokenIds,
        String weightType,
        long parameterCount) {

    public ModelConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
    }
}
