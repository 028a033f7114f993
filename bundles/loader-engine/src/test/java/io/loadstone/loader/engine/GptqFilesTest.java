package io.loadstone.loader.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.api.loader.Detection;
import io.loadstone.testsupport.SharedModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** text-generation-webui's checkpoint lookups, the folder view, and the ranking table on the shared fixtures. */
class GptqFilesTest {

    @TempDir
    Path tmp;

    private Path file(String name) throws Exception {
        Path p = tmp.resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, "x");
        return p;
    }

    @Test
    void gptqForLlamaLooksWhereWebuiLooks() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("llama-13b"));
        file("llama-13b/other.pt");
        assertEquals(Optional.of(dir.resolve("other.pt")), GptqFiles.gptqForLlama(dir, 4, 128), "last *.pt");
        Path named = file("llama-13b/4bit.safetensors");
        assertEquals(Optional.of(named), GptqFiles.gptqForLlama(dir, 4, 128), "{dir}/{wbits}bit{ext}");
        Path inside = file("llama-13b/llama-13b-4bit-128g.pt");
        assertEquals(Optional.of(inside), GptqFiles.gptqForLlama(dir, 4, 128), "the group first");
        Path beside = file("llama-13b-4bit-128g.safetensors");
        assertEquals(Optional.of(beside), GptqFiles.gptqForLlama(dir, 4, 128), "beside the folder, .safetensors first");
        assertEquals(Optional.of(named), GptqFiles.gptqForLlama(dir, 4, 0), "no group: the plain name");
    }

    @Test
    void autoGptqTakesTheLastSafetensorsThenPtThenBin() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("m"));
        Path bin = file("m/model.bin");
        assertEquals(Optional.of(bin), GptqFiles.autoGptq(dir));
        Path pt = file("m/model.pt");
        assertEquals(Optional.of(pt), GptqFiles.autoGptq(dir));
        file("m/a.safetensors");
        Path last = file("m/gptq_model-4bit-128g.safetensors");
        file("m/adapter_model.safetensors");
        assertEquals(Optional.of(last), GptqFiles.autoGptq(dir), "adapters are not checkpoints");
    }

    @Test
    void aViewLinksTheFilesAndWritesAConfigOnlyForOldFolders() throws Exception {
        Path src = SharedModels.copy(SharedModels.model("stories260K-gptq-4bit-64g-sym"), tmp.resolve("src"));
        HfFolder f = HfFolder.read(src);
        Path renamed = Files.move(src.resolve("model.safetensors"), src.resolve("gptq_model-4bit-64g.safetensors"));
        Path view = GptqFiles.view(tmp.resolve("views"), f, renamed, 4, 64, false);
        assertTrue(Files.isSymbolicLink(view.resolve("model.safetensors")));
        assertEquals(renamed.toAbsolutePath(), Files.readSymbolicLink(view.resolve("model.safetensors")));
        assertTrue(Files.isSymbolicLink(view.resolve("quantize_config.json")), "the folder's own config");
        assertFalse(Files.exists(view.resolve("gptq_model-4bit-64g.safetensors")));
        GptqFiles.delete(view);
        assertFalse(Files.exists(view));
        assertTrue(Files.exists(renamed), "the model's files are untouched");
    }

    @Test
    void rankingOrdersTheLoadersByFormat() throws Exception {
        HfFolder gptq = HfFolder.read(SharedModels.model("stories260K-gptq-4bit-32g-actorder"));
        assertEquals(90, Ranking.rank(Ranking.EXLLAMA_HF, gptq).score());
        assertEquals(50, Ranking.rank(Ranking.TRANSFORMERS, gptq).score());
        assertEquals("GPTQ 4-bit group 32 act-order: use ExLlama_HF, AutoGPTQ, ExLlama, GPTQ-for-LLaMa, "
                + "ExLlamav2_HF, ExLlamav2, Transformers", Ranking.rank(Ranking.AUTOAWQ, gptq).reason());
        HfFolder eight = HfFolder.read(SharedModels.model("stories260K-gptq-8bit-32g-sym"));
        assertFalse(GptqCheckpoint.fourBitOnly(Ranking.EXLLAMA, eight).accepted());
        assertEquals(null, GptqCheckpoint.fourBitOnly(Ranking.EXLLAMA, gptq));
        HfFolder awq = HfFolder.read(SharedModels.model("stories260K-awq-4bit-64g-gemv"));
        assertEquals(new Detection(90, "AWQ 4-bit group 64 (config.json quantization_config), llama"),
                Ranking.rank(Ranking.AUTOAWQ, awq));
        HfFolder plain = HfFolder.read(SharedModels.model("stories260K-hf"));
        assertTrue(Ranking.rank(Ranking.AUTOGPTQ, plain).reason().contains("Transformers"));
    }
}
