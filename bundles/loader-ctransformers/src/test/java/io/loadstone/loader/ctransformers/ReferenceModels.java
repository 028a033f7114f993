package io.loadstone.loader.ctransformers;

import java.nio.file.Path;
import java.util.List;

import com.google.gson.JsonObject;

import io.loadstone.testsupport.References;
import io.loadstone.testsupport.SharedModels;

/**
 * The five tiny non-llama GGUF fixtures in ../shared/models (made by transformers, converted by
 * llama.cpp's own converter) with transformers' reference logits and greedy ids.
 *
 * @param folder       the fixture folder
 * @param file         the GGUF file in it
 * @param architecture its general.architecture
 * @param tolerance    max |logit difference| allowed against transformers over all positions (F32
 *                     KV cache): what each fixture's README measured for llama.cpp (all positions:
 *                     0.0015 gpt2, 0.078 gpt2 Q8_0, 0.0013 starcoder, 0.0018 falcon, 0.0025 mpt,
 *                     0.0019 gptneox), rounded up; mostly llama.cpp's fp16 GELU table
 */
record ReferenceModels(String folder, String file, String architecture, double tolerance) {

    static final List<ReferenceModels> ALL = List.of(
            new ReferenceModels("tiny-gpt2-gguf", "tiny-gpt2-f32.gguf", "gpt2", 2e-3),
            new ReferenceModels("tiny-gpt2-gguf", "tiny-gpt2-q8_0.gguf", "gpt2", 0.1),
            new ReferenceModels("tiny-starcoder-gguf", "tiny-gpt-bigcode-f32.gguf", "starcoder", 2e-3),
            new ReferenceModels("tiny-falcon-gguf", "tiny-falcon-f32.gguf", "falcon", 2e-3),
            new ReferenceModels("tiny-mpt-gguf", "tiny-mpt-f32.gguf", "mpt", 3e-3),
            new ReferenceModels("tiny-gptneox-gguf", "tiny-gpt-neox-f32.gguf", "gptneox", 2e-3));

    Path path() {
        return SharedModels.model(folder).resolve(file);
    }

    JsonObject reference() {
        return References.read(SharedModels.model(folder).resolve("reference.json"));
    }

    @Override
    public String toString() {
        return file;
    }
}
