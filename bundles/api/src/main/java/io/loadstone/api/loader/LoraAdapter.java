package io.loadstone.api.loader;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A LoRA adapter to apply to a loaded model: a PEFT folder ({@code adapter_config.json} with
 * {@code adapter_model.safetensors} or {@code adapter_model.bin}) and the factor its update is
 * multiplied by on top of PEFT's own {@code lora_alpha / r} (1 = as trained).
 *
 * @param name   the name users know it by (the folder name in {@code loras/})
 * @param folder the adapter folder
 * @param scale  the extra factor, usually 1
 */
public record LoraAdapter(String name, Path folder, double scale) {

    public LoraAdapter {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(folder, "folder");
        if (!Double.isFinite(scale)) {
            throw new IllegalArgumentException("LoRA scale must be a finite number, not " + scale);
        }
    }
}
