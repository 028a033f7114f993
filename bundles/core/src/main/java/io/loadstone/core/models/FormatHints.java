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
                return need("GGUF file", LLAMA_CPP);
            }
            return "Not a model file: only .gguf files and model folders are listed.";
        }
        try (Stream<Path> files = Files.list(model)) {
            var names = files.map(p -> p.getFileName().toString()).toList();
            if (names.stream().anyMatch(n -> n.toLowerCase(Locale.ROOT).endsWith(".gguf"))) {
                return need("folder with GGUF files", LLAMA_CPP);
            }
            // text-generation-webui's ctransformers read *.bin too: GGUF under that name, or legacy GGML.
            if (!names.contains("config.json") && names.stream().anyMatch(n -> n.toLowerCase(Locale.ROOT)
                    .endsWith(".bin"))) {
                return need("folder with .bin model files", CTRANSFORMERS);
            }
            String config = names.contains("config.json") ? Files.readString(model.resolve("config.json")) : "";
            if (names.contains("quantize_config.json") || config.contains("\"gptq\"")) {
                return need("GPTQ checkpoint", EXLLAMA_HF, AUTOGPTQ);
            }
            if (names.contains("quant_config.json") || config.contains("\"awq\"")) {
                return need("AWQ checkpoint", AUTOAWQ, TRANSFORMERS);
            }
            if (config.contains("\"exl2\"")) {
                return need("EXL2 checkpoint", EXLLAMAV2_HF, EXLLAMAV2);
            }
            boolean weights = names.stream().anyMatch(n -> n.endsWith(".safetensors") || n.matches(
                    "pytorch_model.*\\.bin"));
            if (!config.isEmpty() && weights) {
                return need("Hugging Face checkpoint", TRANSFORMERS);
            }
            if (names.contains("adapter_config.json")) {
                return "This is a LoRA adapter, not a model: move it to the loras folder.";
            }
            if (name.contains("gptq") || names.stream().anyMatch(n -> n.endsWith(".pt"))) {
                return need("folder (name suggests GPTQ)", GPTQ_FOR_LLAMA, AUTOGPTQ);
            }
            if (name.contains("awq")) {
                return need("folder (name suggests AWQ)", AUTOAWQ);
            }
            if (name.contains("exl2")) {
                return need("folder (name suggests EXL2)", EXLLAMAV2_HF, EXLLAMAV2);
            }
            if (config.isEmpty()) {
                return "No model files found (no .gguf, no config.json): is the download complete?";
            }
            return "config.json found but no weights (*.safetensors / pytorch_model*.bin): is the download complete?";
        } catch (IOException e) {
            return "Cannot read " + model + ": " + e.getMessage();
        }
    }

    /** A loader and the bundle (symbolic name, as in the distribution's plugins) that provides it. */
    private record Loader(String id, String bundle) {
    }

    private static final Loader LLAMA_CPP = new Loader("llama.cpp", "io.loadstone.loader-llamacpp");
    private static final Loader CTRANSFORMERS = new Loader("ctransformers", "io.loadstone.loader-ctransformers");
    private static final Loader TRANSFORMERS = new Loader("Transformers", "io.loadstone.loader-transformers");
    private static final Loader AUTOGPTQ = new Loader("AutoGPTQ", "io.loadstone.loader-autogptq");
    private static final Loader GPTQ_FOR_LLAMA = new Loader("GPTQ-for-LLaMa", "io.loadstone.loader-gptq-for-llama");
    private static final Loader EXLLAMA_HF = new Loader("ExLlama_HF", "io.loadstone.loader-exllama-hf");
    private static final Loader EXLLAMAV2 = new Loader("ExLlamav2", "io.loadstone.loader-exllamav2");
    private static final Loader EXLLAMAV2_HF = new Loader("ExLlamav2_HF", "io.loadstone.loader-exllamav2-hf");
    private static final Loader AUTOAWQ = new Loader("AutoAWQ", "io.loadstone.loader-autoawq");

    private static String need(String what, Loader... loaders) {
        StringBuilder sb = new StringBuilder("No installed loader accepts this " + what + ". Install ");
        for (int i = 0; i < loaders.length; i++) {
            sb.append(i == 0 ? "" : " or ").append("the ").append(loaders[i].id()).append(" loader (")
                    .append(loaders[i].bundle()).append(')');
        }
        return sb.append(", e.g. by dropping its jar into the plugins folder.").toString();
    }
}
