package io.loadstone.loader.transformers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.testsupport.TorchSaveWriter;
import io.loadstone.engine.safetensors.Checkpoint;
import io.loadstone.engine.safetensors.TensorInfo;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Folders with only pytorch_model.bin (written as torch.save writes it, from the shared
 * safetensors checkpoints) are detected, loaded and generate exactly what the safetensors copy
 * generates; safetensors win when both are there.
 */
class PytorchBinTest {

    private static final System.Logger LOG = System.getLogger(PytorchBinTest.class.getName());

    @TempDir
    Path tmp;

    private final io.loadstone.loader.transformers.TransformersLoader loader = TestModels.loader();

    /** {@code src} with its weights converted to one pytorch_model.bin (tokenizer and configs copied). */
    static Path binCopy(Path src, Path dst) throws Exception {
        Files.createDirectories(dst);
        try (Stream<Path> s = Files.list(src)) {
            for (Path p : s.toList()) {
                if (!p.getFileName().toString().endsWith(".safetensors")) {
                    Files.copy(p, dst.resolve(p.getFileName()));
                }
            }
        }
        try (Arena arena = Arena.ofConfined()) {
            List<TorchSaveWriter.Tensor> tensors = new ArrayList<>();
            for (TensorInfo t : Checkpoint.open(src, arena).tensors().values()) {
                tensors.add(new TorchSaveWriter.Tensor(t.name(), t.dtype(), t.shape(), t.data()));
            }
            TorchSaveWriter.write(dst.resolve("pytorch_model.bin"), tensors);
        }
        return dst;
    }

    private static GenerationResult greedy(LoadedModel m, String prompt, List<Integer> ids) throws Exception {
        return m.generate(GenerationRequest.greedy(prompt, 30), (id, text) -> {
            ids.add(id);
            return true;
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"stories260K-hf", "stories260K-hf-f16", "stories260K-hf-bf16"})
    void binOnlyFolderIsDetectedLoadedAndGeneratesTheSameText(String model) throws Exception {
        Path src = TestModels.model(model);
        Path bin = binCopy(src, tmp.resolve(model + "-bin"));
        Detection d = loader.detect(ModelSource.of(bin));
        assertTrue(d.accepted(), d.reason());
        assertEquals(loader.detect(ModelSource.of(src)).score(), d.score(), "as preferred as the safetensors copy");
        assertEquals("Hugging Face llama, pytorch_model.bin (tensor records only; its pickle code is never run)", d.reason());

        JsonObject ref = TestModels.reference();
        String prompt = ref.get("prompt").getAsString();
        List<Integer> stIds = new ArrayList<>();
        List<Integer> binIds = new ArrayList<>();
        GenerationResult st;
        GenerationResult fromBin;
        try (LoadedModel m = loader.load(ModelSource.of(src), LoaderOptions.of(Map.of("threads", 2)))) {
            st = greedy(m, prompt, stIds);
        }
        try (LoadedModel m = loader.load(ModelSource.of(bin), LoaderOptions.of(Map.of("threads", 2)))) {
            assertTrue(m.info().description().endsWith("(pytorch_model.bin)"), m.info().description());
            fromBin = greedy(m, prompt, binIds);
            LOG.log(System.Logger.Level.INFO, model + " from pytorch_model.bin: " + m.info().description() + " -> " + fromBin.text());
        }
        assertEquals(st.text(), fromBin.text());
        assertEquals(stIds, binIds);
        assertEquals(30, binIds.size());
        if (model.equals("stories260K-hf")) {
            assertEquals(ref.get("base_greedy_text").getAsString(), fromBin.text(), "and transformers' own greedy text");
        }
    }

    @Test
    void safetensorsWinWhenBothArePresent() throws Exception {
        Path src = TestModels.model("stories260K-hf");
        Path both = binCopy(src, tmp.resolve("both"));
        Files.copy(src.resolve("model.safetensors"), both.resolve("model.safetensors"));
        assertEquals(new Detection(90, "Hugging Face llama, F32 safetensors"), loader.detect(ModelSource.of(both)));
        try (LoadedModel m = loader.load(ModelSource.of(both), LoaderOptions.of(Map.of()))) {
            assertTrue(m.info().description().endsWith("(safetensors)"), m.info().description());
        }
    }

    @Test
    void damagedOrHostileBinIsRefusedOnLoadNamingTheFile() throws Exception {
        Path dir = binCopy(TestModels.model("stories260K-hf"), tmp.resolve("cut"));
        Path file = dir.resolve("pytorch_model.bin");
        byte[] all = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(all, all.length - 100));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> loader.load(ModelSource.of(dir), LoaderOptions.of(Map.of())));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("truncated"), e.getMessage());

        // {'w': os.system('touch pwned')} in a torch.save zip: refused, nothing run.
        Path marker = dir.resolve("pwned");
        String cmd = "touch " + marker;
        java.io.ByteArrayOutputStream p = new java.io.ByteArrayOutputStream();
        p.writeBytes(new byte[] {(byte) 0x80, 2, '}', 'X', 1, 0, 0, 0, 'w', 'c'});
        p.writeBytes("os\nsystem\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        p.writeBytes(new byte[] {'X', (byte) cmd.length(), 0, 0, 0});
        p.writeBytes(cmd.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        p.writeBytes(new byte[] {(byte) 0x85, 'R', 's', '.'});
        TorchSaveWriter.writeArchive(file, p.toByteArray(), Map.of());
        ModelLoadException evil = assertThrows(ModelLoadException.class, () -> loader.load(ModelSource.of(dir), LoaderOptions.of(Map.of())));
        LOG.log(System.Logger.Level.INFO, evil.getMessage());
        assertTrue(evil.getMessage().contains("'os.system'") && evil.getMessage().contains("never executes pickled code"),
                evil.getMessage());
        assertTrue(!Files.exists(marker), "nothing may run");
    }
}
