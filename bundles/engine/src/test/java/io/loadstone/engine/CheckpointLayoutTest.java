package io.loadstone.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.engine.json.Json;
import io.loadstone.engine.safetensors.Checkpoint;
import io.loadstone.engine.safetensors.DType;
import io.loadstone.testsupport.SafetensorsWriter;
import io.loadstone.engine.safetensors.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Folder-level layouts built from the real checkpoints: shards with an index, tied embeddings,
 * qwen2 biases, mistral's sliding window, and the clear errors for what is missing or wrong.
 */
class CheckpointLayoutTest {

    private static final System.Logger LOG = System.getLogger(CheckpointLayoutTest.class.getName());
    private static final int[] PROMPT = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376};

    @TempDir
    Path dir;

    private static float[][] run(Path folder) throws Exception {
        try (EngineModel m = EngineModel.open(folder, EngineOptions.builder().threads(2).batchSize(4).build());
                EngineSession s = m.newSession()) {
            return s.forwardAll(PROMPT);
        }
    }

    /** Copies the tensors of {@code src} that pass {@code keep} into {@code file}, in offset order. */
    private static void copyTensors(Path src, Path file, Predicate<String> keep, Map<String, TensorInfo> extra) throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, TensorInfo> all = new LinkedHashMap<>(Checkpoint.open(src, arena).tensors());
            all.putAll(extra);
            List<SafetensorsWriter.Tensor> out = new ArrayList<>();
            for (TensorInfo t : all.values()) {
                if (keep.test(t.name())) {
                    out.add(new SafetensorsWriter.Tensor(t.name(), t.dtype(), t.shape(), seg -> seg.copyFrom(t.data())));
                }
            }
            SafetensorsWriter.write(file, Map.of("format", "pt"), out);
        }
    }

    private void writeConfig(Path src, Map<String, Object> changes) throws Exception {
        Map<String, Object> cfg = new LinkedHashMap<>(TestModels.json(src.resolve("config.json")));
        cfg.putAll(changes);
        cfg.values().removeIf(v -> v == Json.NULL);
        Files.writeString(dir.resolve("config.json"), Surgery.toJson(cfg));
    }

    @Test
    void shardedCheckpointWithIndexEqualsTheSingleFile() throws Exception {
        Path src = TestModels.model("stories260K-hf");
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        copyTensors(src, dir.resolve("model-00001-of-00002.safetensors"), n -> n.contains("layers.0.") || n.contains("embed"), Map.of());
        copyTensors(src, dir.resolve("model-00002-of-00002.safetensors"), n -> !(n.contains("layers.0.") || n.contains("embed")), Map.of());
        Map<String, Object> weightMap = new LinkedHashMap<>();
        try (Arena arena = Arena.ofConfined()) {
            for (String n : Checkpoint.open(src, arena).tensors().keySet()) {
                weightMap.put(n, n.contains("layers.0.") || n.contains("embed") ? "model-00001-of-00002.safetensors"
                        : "model-00002-of-00002.safetensors");
            }
        }
        Files.writeString(dir.resolve(Checkpoint.INDEX), Surgery.toJson(Map.of("metadata", Map.of("total_size", 1), "weight_map", weightMap)));
        float[][] sharded = run(dir);
        float[][] single = run(src);
        for (int i = 0; i < PROMPT.length; i++) {
            assertArrayEquals(single[i], sharded[i], 0f, "position " + i);
        }
        try (EngineModel m = EngineModel.open(dir, EngineOptions.defaults())) {
            assertEquals("pt", m.metadata().get("format"));
        }

        // A shard the index names but the folder lacks.
        Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
        ModelFileException e = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()));
        LOG.log(System.Logger.Level.INFO, e.getMessage());
        assertEquals(dir.resolve("model-00002-of-00002.safetensors"), e.file());
        assertTrue(e.getMessage().contains("listed in model.safetensors.index.json but missing"), e.getMessage());
    }

    @Test
    void indexPlacingATensorInTheWrongShardIsReported() throws Exception {
        Path src = TestModels.model("stories260K-hf");
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(src.resolve("model.safetensors"), dir.resolve("a.safetensors"));
        copyTensors(src, dir.resolve("b.safetensors"), n -> n.equals("model.norm.weight"), Map.of());
        Map<String, Object> weightMap = new LinkedHashMap<>();
        try (Arena arena = Arena.ofConfined()) {
            for (String n : Checkpoint.open(src, arena).tensors().keySet()) {
                weightMap.put(n, n.equals("lm_head.weight") ? "b.safetensors" : "a.safetensors");
            }
        }
        Files.writeString(dir.resolve(Checkpoint.INDEX), Surgery.toJson(Map.of("weight_map", weightMap)));
        ModelFileException e = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()));
        LOG.log(System.Logger.Level.INFO, e.getMessage());
        assertEquals(dir.resolve("b.safetensors"), e.file());
        assertTrue(e.getMessage().contains("lacks tensor 'lm_head.weight'"), e.getMessage());
    }

    @Test
    void tiedEmbeddingsUseTheEmbeddingAsLmHead() throws Exception {
        // stories260K stores lm_head bit-equal to the embedding (llama2.c does), so dropping it and
        // declaring the embeddings tied must give the very same logits.
        Path src = TestModels.model("stories260K-hf");
        writeConfig(src, Map.of("tie_word_embeddings", true));
        copyTensors(src, dir.resolve("model.safetensors"), n -> !n.equals("lm_head.weight"), Map.of());
        float[][] tied = run(dir);
        float[][] untied = run(src);
        for (int i = 0; i < PROMPT.length; i++) {
            assertArrayEquals(untied[i], tied[i], 0f, "position " + i);
        }
        try (EngineModel m = EngineModel.open(dir, EngineOptions.defaults())) {
            assertTrue(m.config().tieWordEmbeddings());
            assertTrue(m.weightBytes() < 1_176_152 - 131_072 + 1, "the tied matrix is counted once");
        }
    }

    @Test
    void qwen2BiasesAreAddedToQueriesKeysAndValues() throws Exception {
        Path src = TestModels.model("tiny-llama-f32");
        writeConfig(src, Map.of("model_type", "qwen2", "architectures", List.of("Qwen2ForCausalLM"), "rope_theta", 1000000.0,
                "rope_parameters", Json.NULL, "sliding_window", 4L, "use_sliding_window", false));
        Map<String, TensorInfo> biases = new LinkedHashMap<>();
        Random rnd = new Random(7);
        Arena arena = Arena.ofConfined();
        try (arena) {
            for (int l = 0; l < 2; l++) {
                for (String p : new String[] {"q", "k", "v"}) {
                    int n = p.equals("q") ? 128 : 64;
                    MemorySegment seg = arena.allocate(4L * n);
                    for (int i = 0; i < n; i++) {
                        seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, (float) rnd.nextGaussian());
                    }
                    String name = "model.layers." + l + ".self_attn." + p + "_proj.bias";
                    biases.put(name, new TensorInfo(name, DType.F32, new long[] {n}, dir, seg));
                }
            }
            copyTensors(src, dir.resolve("model.safetensors"), n -> true, biases);
        }
        float[][] engine = run(dir);
        float[][] ref;
        try (Arena a = Arena.ofConfined()) {
            ref = new ReferenceLlama(dir, a).logits(PROMPT, ReferenceLlama.positions(PROMPT.length, 1), 1000000.0);
        }
        float worst = 0;
        for (int i = 0; i < PROMPT.length; i++) {
            worst = Math.max(worst, TestModels.maxAbsDiff(engine[i], ref[i]));
        }
        LOG.log(System.Logger.Level.INFO, String.format("qwen2 with biases: max |Δ| vs reference %.3g", worst));
        assertTrue(worst <= 1e-4, "qwen2 biases: " + worst);
        try (EngineModel m = EngineModel.open(dir, EngineOptions.defaults())) {
            assertTrue(m.config().attentionBias());
            assertEquals(0, m.config().slidingWindow(), "qwen2 ignores sliding_window unless use_sliding_window");
            assertEquals(1000000.0, m.config().ropeTheta());
        }
        // Without the biases the same config is incomplete.
        copyTensors(src, dir.resolve("model.safetensors"), n -> true, Map.of());
        ModelFileException e = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()));
        assertTrue(e.getMessage().contains("lacks 6 tensor(s)") && e.getMessage().contains("self_attn.q_proj.bias"), e.getMessage());
    }

    @Test
    void mistralSlidingWindowLimitsAttention() throws Exception {
        Path src = TestModels.model("tiny-llama-f32");
        writeConfig(src, Map.of("model_type", "mistral", "sliding_window", 4L));
        Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        float[][] engine = run(dir);
        float[][] ref;
        float[][] full;
        try (Arena a = Arena.ofConfined()) {
            ReferenceLlama r = new ReferenceLlama(dir, a);
            ref = r.logits(PROMPT, ReferenceLlama.positions(PROMPT.length, 1), 10000, 4);
            full = r.logits(PROMPT, ReferenceLlama.positions(PROMPT.length, 1), 10000, 0);
        }
        float worst = 0;
        for (int i = 0; i < PROMPT.length; i++) {
            worst = Math.max(worst, TestModels.maxAbsDiff(engine[i], ref[i]));
        }
        assertTrue(worst <= 1e-4, "sliding window: " + worst);
        assertArrayEquals(full[3], engine[3], 1e-4f, "inside the window nothing changes");
        assertTrue(TestModels.maxAbsDiff(full[9], engine[9]) > 100 * worst, "past the window the logits must differ");
    }

    @Test
    void missingTensorsAreListedTogether() throws Exception {
        Path src = TestModels.model("stories260K-hf");
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        copyTensors(src, dir.resolve("model.safetensors"), n -> !n.startsWith("model.layers.3.") && !n.equals("model.norm.weight"), Map.of());
        ModelFileException e = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()));
        LOG.log(System.Logger.Level.INFO, e.getMessage());
        assertEquals(dir, e.file());
        assertTrue(e.getMessage().contains("lacks 10 tensor(s)"), e.getMessage());
        assertTrue(e.getMessage().contains("model.layers.3.mlp.down_proj.weight") || e.getMessage().contains("10 in all"), e.getMessage());
    }

    /** A config.json claiming 10^7 layers is refused from the tensor names, before anything is built per layer. */
    @Test
    void aConfigWithFarMoreLayersThanTheWeightsIsRefusedAtOnce() throws Exception {
        Path src = TestModels.model("stories260K-hf");
        Files.writeString(dir.resolve("config.json"), Files.readString(src.resolve("config.json"))
                .replace("\"num_hidden_layers\": 5", "\"num_hidden_layers\": 10000000"));
        Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        ModelFileException e = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()));
        assertEquals(dir.resolve("config.json"), e.file());
        assertEquals(io.loadstone.api.loader.ModelLoadException.Reason.INVALID_FILE, e.reason());
        assertTrue(e.getMessage().contains("num_hidden_layers is 10000000 but the checkpoint holds layers 0 to 4"), e.getMessage());
    }

    @Test
    void weightsFromAnotherModelAreRefusedWithTheShapes() throws Exception {
        Path src = TestModels.model("stories260K-hf");
        writeConfig(src, Map.of("intermediate_size", 176L));
        Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        ModelFileException e = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()));
        LOG.log(System.Logger.Level.INFO, e.getMessage());
        assertTrue(e.getMessage().contains("has shape [172, 64] but config.json") && e.getMessage().contains("[176, 64]"), e.getMessage());
    }

    @Test
    void configProblemsNameConfigJson() throws Exception {
        Path src = TestModels.model("stories260K-hf");
        Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        ModelFileException missing = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()));
        assertEquals(dir.resolve("config.json"), missing.file());

        writeConfig(src, Map.of("model_type", "gemma2"));
        ModelFileException type = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()));
        assertTrue(type.getMessage().contains("model_type 'gemma2'"), type.getMessage());

        writeConfig(src, Map.of("rope_scaling", Map.of("type", "yarn", "factor", 4.0)));
        ModelFileException yarn = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()));
        assertTrue(yarn.getMessage().contains("'yarn' is not supported"), yarn.getMessage());

        writeConfig(src, Map.of("num_key_value_heads", 3L));
        ModelFileException heads = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()));
        assertTrue(heads.getMessage().contains("not a multiple of num_key_value_heads 3"), heads.getMessage());

        writeConfig(src, Map.of("quantization_config", Map.of("quant_method", "hqq")));
        ModelFileException quant = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()));
        assertTrue(quant.getMessage().contains("quant_method 'hqq' is not a format the Java engine runs"), quant.getMessage());

        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\",");
        ModelFileException json = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()));
        assertTrue(json.getMessage().contains("config.json: is not valid JSON"), json.getMessage());
    }

    @Test
    void damagedPytorchOnlyAndEmptyFoldersAreExplained() throws Exception {
        Path src = TestModels.model("stories260K-hf");
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        ModelFileException empty = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()));
        assertTrue(empty.getMessage().contains("has no weights") && empty.getMessage().contains("pytorch_model*.bin"),
                empty.getMessage());
        // pytorch_model.bin is read now (io.loadstone.engine.pytorch); a damaged one is named.
        Files.write(dir.resolve("pytorch_model.bin"), new byte[] {'P', 'K'});
        ModelFileException pickle = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()));
        assertEquals(dir.resolve("pytorch_model.bin"), pickle.file());
        assertTrue(pickle.getMessage().contains("not a PyTorch checkpoint"), pickle.getMessage());
        ModelFileException notDir = assertThrows(ModelFileException.class,
                () -> EngineModel.open(dir.resolve("nothing-here"), EngineOptions.defaults()));
        assertTrue(notDir.getMessage().contains("does not exist"), notDir.getMessage());
    }
}
