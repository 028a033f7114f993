package io.loadstone.api.loader;

import java.util.Objects;
import java.util.Set;

/**
 * What models of a loader can do.
 *
 * @param lora     how many LoRA adapters can be applied at once
 * @param cfg      classifier-free guidance (negative prompt + guidance scale)
 * @param logits   {@link LoadedModel#logits()} is available (perplexity, HF samplers)
 * @param samplers names of the generation parameters it honours (see {@link Sampling});
 *                 clients must reject others instead of ignoring them silently
 */
public record Capabilities(LoraSupport lora, boolean cfg, boolean logits, Set<String> samplers) {

    public Capabilities {
        Objects.requireNonNull(lora, "lora");
        samplers = Set.copyOf(samplers);
    }

    /** LoRA support levels. */
    public enum LoraSupport {
        NONE, SINGLE, MULTI
    }
}
