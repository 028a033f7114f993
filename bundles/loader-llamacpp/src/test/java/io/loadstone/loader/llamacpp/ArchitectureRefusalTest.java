package io.loadstone.loader.llamacpp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.testsupport.SharedModels;

/** A GGUF of an architecture newer than the attached build is refused by this loader too, before llama.cpp. */
class ArchitectureRefusalTest {

    @Test
    void qwen3NeedsANewerLlamaCppBuildAndGpt2IsStillRun() throws Exception {
        try (LlamaLibrary library = LlamaLibrary.load(TestFiles.library(), "llama.cpp-b4916")) {
            LlamaCppLoader loader = new LlamaCppLoader(library.runtime());
            Path qwen3 = SharedModels.model("tiny-qwen3-gguf");
            Detection d = loader.detect(ModelSource.of(qwen3));
            assertFalse(d.accepted());
            assertEquals("tiny-qwen3-f32.gguf: architecture 'qwen3' needs a newer llama.cpp build: llama.cpp-b4916 "
                    + "does not know it: install the llama.cpp-v0.5.0 native fragment io.loadstone.llamacpp-v050-"
                    + io.loadstone.natives.Platform.current() + ", which runs it", d.reason());
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> loader.load(ModelSource.of(qwen3),
                    LoaderOptions.validate(loader.options(), Map.of())));
            assertTrue(e.getMessage().contains("'qwen3' needs a newer llama.cpp build"), e.getMessage());

            Detection gpt2 = loader.detect(ModelSource.of(SharedModels.model("tiny-gpt2-gguf")));
            assertEquals(Detection.PREFERRED, gpt2.score(), "the llama.cpp loader still offers non-llama files");
            assertTrue(gpt2.reason().contains("architecture gpt2"), gpt2.reason());
            loader.deactivate();
        }
    }
}
