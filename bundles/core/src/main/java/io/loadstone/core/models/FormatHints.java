package io.loadstone.core.models;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * When no installed loader accepts a model: which loader (and bundle) would, judged from
 * the files first and the name second, so the user learns what to install rather than
 * only that it "does not work".
 */
public final class FormatHints {

    private FormatHints() {
    }

    /** A sentence naming the missing loader bundle, or a description of why nothing fits. */
    public static String missingLoader(Path model) {
        String name = model.getFileName().toString().toLowerCase(Locale.ROOT);
        if (Files.isRegularFile(model)) {
            if (name.endsWith(".gguf")) {
                return need("llama.cpp", "io.loadstone.loader-llamacpp", "GGUF file");
            }
            return "Not a model file: only .gguf files and model folders are listed.";
        }
        try (Stream<Path> files = Files.list(model)) {
            var names = files.map(p -> p.getFileName().toString()).toList();
            if (names.stream().anyMatch(n -> n.toLowerCase(Locale.ROOT).endsWith(".gguf"))) {
                return need("llama.cpp", "io.loadstone.loader-llamacpp", "folder with GGUF files");
            }
            // text-generation-webui's ctransformers read *.bin too: GGUF under that name, or legacy GGML.
            if (!names.contains("config.json") && names.stream().anyMatch(n -> n.toLowerCase(Locale.ROOT)
                    .endsWith(".bin"))) {
                return need("ctransformers", "io.loadstone.loader-ctransformers", "folder with .bin model files");
            }
            String config = names.contains("config.json") ? Files.readString(model.resolve("config.json")) : "";
            if (names.contains("quantize_config.json") || config.contains("\"gptq\"")) {
                return need("AutoGPTQ or ExLlamav2_HF", "a GPTQ loader bundle", "GPTQ checkpoint");
            }
            if (names.contains("quant_config.json") || config.contains("\"awq\"")) {
                return need("AutoAWQ", "an AWQ loader bundle", "AWQ checkpoint");
            }
            if (config.contains("\"exl2\"")) {
                return need("ExLlamav2_HF", "an EXL2 loader bundle", "EXL2 checkpoint");
            }
            boolean weights = names.stream().anyMatch(n -> n.endsWith(".safetensors") || n.matches(
                    "pytorch_model.*\\.bin"));
            if (!config.isEmpty() && weights) {
                return need("Transformers", "io.loadstone.loader-transformers", "Hugging Face checkpoint");
            }
            if (names.contains("adapter_config.json")) {
                return "This is a LoRA adapter, not a model: move it to the loras folder.";
            }
            if (name.contains("gptq")) {
                return need("a GPTQ loader", "a GPTQ loader bundle", "name suggests GPTQ");
            }
            if (name.contains("awq")) {
                return need("AutoAWQ", "an AWQ loader bundle", "name suggests AWQ");
            }
            if (name.contains("exl2")) {
                return need("ExLlamav2", "an EXL2 loader bundle", "name suggests EXL2");
            }
            if (config.isEmpty()) {
                return "No model files found (no .gguf, no config.json): is the download complete?";
            }
            return "config.json found but no weights (*.safetensors / pytorch_model*.bin): is the download complete?";
        } catch (IOException e) {
            return "Cannot read " + model + ": " + e.getMessage();
        }
    }

    private static String need(String loader, String bundle, String what) {
        return "No installed loader accepts this " + what + ". Install the " + loader + " loader (" + bundle
                + "), e.g. by dropping its jar into the plugins folder.";
    }
}
