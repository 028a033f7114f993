package io.loadstone.core.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.api.loader.ModelSource;

class ModelFolderTest {

    @TempDir
    Path dir;

    private void file(String name, String content) throws Exception {
        Path p = dir.resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
    }

    @Test
    void listsFoldersAndGgufFilesLikeTextGenerationWebui() throws Exception {
        file("model-10.gguf", "x");
        file("model-2.gguf", "x");
        file("Big-Model-00001-of-00003.gguf", "x");
        file("Big-Model-00002-of-00003.gguf", "x");
        file("Big-Model-00003-of-00003.gguf", "x");
        file("TheBloke_Llama-2-7B-GPTQ/config.json", "{}");
        file("oobabooga_llama-tokenizer/tokenizer.model", "x");
        file("config-user.yaml", "x");
        file("place-your-models-here.txt", "x");
        file("notes.json", "x");
        file(".downloading/partial/model.safetensors.part", "x");
        file("readme.md", "x");
        file("weights.bin", "x");
        List<String> names = ModelFolder.list(dir).stream().map(ModelSource::name).toList();
        assertEquals(List.of("Big-Model-00001-of-00003.gguf", "model-2.gguf", "model-10.gguf",
                "TheBloke_Llama-2-7B-GPTQ"), names);
    }

    @Test
    void absentFolderHasNoModels() throws Exception {
        assertTrue(ModelFolder.list(dir.resolve("nope")).isEmpty());
    }

    @Test
    void naturalOrder() {
        assertTrue(ModelFolder.naturalCompare("a2", "a10") < 0);
        assertTrue(ModelFolder.naturalCompare("a010", "a9") > 0);
        assertTrue(ModelFolder.naturalCompare("Alpha", "beta") < 0);
        assertEquals(0, ModelFolder.naturalCompare("x1", "X1"));
    }

    @Test
    void sizeCountsFilesOfAFolder() throws Exception {
        file("m/a.bin", "12345");
        file("m/b.json", "123");
        assertEquals(8, ModelFolder.size(dir.resolve("m")));
    }

    @Test
    void hintsNameTheMissingLoaderFromTheFiles() throws Exception {
        file("g.gguf", "x");
        assertTrue(FormatHints.missingLoader(dir.resolve("g.gguf")).contains("llama.cpp"));
        file("gptq/config.json", "{\"quantization_config\":{\"quant_method\":\"gptq\"}}");
        file("gptq/model.safetensors", "x");
        assertTrue(FormatHints.missingLoader(dir.resolve("gptq")).contains("GPTQ"));
        // Bundles that exist in this repository (bundles/loader-exllama-hf, bundles/loader-autogptq).
        assertTrue(FormatHints.missingLoader(dir.resolve("gptq")).contains("the ExLlama_HF loader "
                + "(io.loadstone.loader-exllama-hf) or the AutoGPTQ loader (io.loadstone.loader-autogptq)"));
        file("awq/quant_config.json", "{}");
        assertTrue(FormatHints.missingLoader(dir.resolve("awq")).contains("the AutoAWQ loader (io.loadstone.loader-autoawq)"));
        file("exl2/config.json", "{\"quantization_config\":{\"quant_method\":\"exl2\"}}");
        assertTrue(FormatHints.missingLoader(dir.resolve("exl2")).contains("the ExLlamav2_HF loader "
                + "(io.loadstone.loader-exllamav2-hf)"));
        file("hf/config.json", "{\"model_type\":\"llama\"}");
        file("hf/model.safetensors", "x");
        assertTrue(FormatHints.missingLoader(dir.resolve("hf")).contains("Transformers"));
        file("lora/adapter_config.json", "{}");
        assertTrue(FormatHints.missingLoader(dir.resolve("lora")).contains("loras folder"));
        file("empty-GPTQ/x.txt", "");
        assertTrue(FormatHints.missingLoader(dir.resolve("empty-GPTQ")).contains("name suggests GPTQ"));
        assertTrue(FormatHints.missingLoader(dir.resolve("empty-GPTQ")).contains("GPTQ-for-LLaMa loader "
                + "(io.loadstone.loader-gptq-for-llama)"));
        file("half/config.json", "{}");
        assertTrue(FormatHints.missingLoader(dir.resolve("half")).contains("no weights"));
    }

    @Test
    void binFilesWithoutConfigAreCtransformersAndWithConfigTransformers() throws Exception {
        file("ggml/ggml-model-q4_0.bin", "tjgg");
        assertTrue(FormatHints.missingLoader(dir.resolve("ggml")).contains("the ctransformers loader"));
        file("pt/config.json", "{\"model_type\":\"gpt2\"}");
        file("pt/pytorch_model.bin", "PK");
        assertTrue(FormatHints.missingLoader(dir.resolve("pt")).contains("Transformers"));
    }
}
