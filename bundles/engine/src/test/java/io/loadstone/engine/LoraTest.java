package io.loadstone.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.api.loader.LoraAdapter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * PEFT LoRA adapters on the engine against PEFT's own fp32 logits (reference.json of the two
 * real adapters made with peft 0.21 for stories260K-hf).
 */
class LoraTest {

    private static final System.Logger LOG = System.getLogger(LoraTest.class.getName());

    private static Path r8;
    private static Path r4;
    private static Map<String, Object> ref8;
    private static Map<String, Object> ref4;
    private static int[] input;

    @BeforeAll
    static void reference() throws Exception {
        r8 = TestModels.model("stories260K-lora-r8");
        r4 = TestModels.model("stories260K-lora-r4-qv");
        ref8 = TestModels.json(r8.resolve("reference.json"));
        ref4 = TestModels.json(r4.resolve("reference.json"));
        input = TestModels.ints(ref8.get("input_ids"));
        assertArrayEquals(input, TestModels.ints(ref4.get("input_ids")));
    }

    private static float[] ref(Map<String, Object> r, String key) {
        return TestModels.floats(r.get(key));
    }

    private static float check(EngineModel m, float[] expected, float tolerance, String what) {
        try (EngineSession s = m.newSession()) {
            float diff = TestModels.maxAbsDiff(s.forward(input), expected);
            LOG.log(System.Logger.Level.INFO, String.format("LoRA %s on %s: max |Δlogit| vs PEFT = %.3g", what,
                    m.folder().getFileName(), diff));
            assertTrue(diff <= tolerance, what + ": max |Δlogit| " + diff + " > " + tolerance);
            return diff;
        }
    }

    @ParameterizedTest(name = "threads={0}, batch={1}")
    @CsvSource({"1, 64", "2, 2", "2, 1"})
    void matchesPeftInFp32(int threads, int batch) throws Exception {
        EngineOptions o = EngineOptions.builder().threads(threads).batchSize(batch).build();
        try (EngineModel m = EngineModel.open(TestModels.model("stories260K-hf"), o)) {
            float[] base;
            try (EngineSession s = m.newSession()) {
                base = s.forward(input);
            }
            assertTrue(TestModels.maxAbsDiff(base, ref(ref8, "base_last_logits")) < 1e-4);

            m.setLoras(List.of(new LoraAdapter("r8", r8, 1.0)));
            assertEquals(List.of(new LoraAdapter("r8", r8, 1.0)), m.loras());
            check(m, ref(ref8, "adapter_scale_1_last_logits"), 1e-4f, "r8 scale 1");
            try (EngineSession s = m.newSession()) {
                int[] ids = TestModels.ints(ref8.get("adapter_greedy_ids"));
                assertArrayEquals(ids, TestModels.greedy(s, input, ids.length), "r8 greedy ids");
            }

            // reference.json: set_scale('default', 0.5) multiplies PEFT's alpha/r, as LoraAdapter.scale does.
            m.setLoras(List.of(new LoraAdapter("r8", r8, 0.5)));
            check(m, ref(ref8, "adapter_scale_0.5_last_logits"), 1e-4f, "r8 scale 0.5");

            m.setLoras(List.of(new LoraAdapter("r4-qv", r4, 1.0)));
            check(m, ref(ref4, "adapter_scale_1_last_logits"), 1e-4f, "r4-qv");
            try (EngineSession s = m.newSession()) {
                int[] ids = TestModels.ints(ref4.get("adapter_greedy_ids"));
                assertArrayEquals(ids, TestModels.greedy(s, input, ids.length), "r4-qv greedy ids");
            }

            m.setLoras(List.of(new LoraAdapter("r8", r8, 1.0), new LoraAdapter("r4-qv", r4, 1.0)));
            check(m, ref(ref8, "both_adapters_last_logits"), 1e-4f, "r8 + r4-qv");
            try (EngineSession s = m.newSession()) {
                int[] ids = TestModels.ints(ref8.get("both_adapters_greedy_ids"));
                assertArrayEquals(ids, TestModels.greedy(s, input, ids.length), "both greedy ids");
            }

            m.setLoras(List.of());
            assertEquals(List.of(), m.loras());
            try (EngineSession s = m.newSession()) {
                assertArrayEquals(base, s.forward(input), "no adapters: the base logits, bit for bit");
            }
        }
    }

    @Test
    void aSessionRefusesToContinueACacheFilledUnderOtherAdapters() throws Exception {
        try (EngineModel m = EngineModel.open(TestModels.model("stories260K-hf"), EngineOptions.builder().threads(1).build());
                EngineSession s = m.newSession()) {
            s.forward(input);
            m.setLoras(List.of(new LoraAdapter("r8", r8, 1.0)));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.forward(new int[] {5}));
            assertTrue(e.getMessage().contains("reset()"), e.getMessage());
            s.reset();
            assertTrue(TestModels.maxAbsDiff(s.forward(input), ref(ref8, "adapter_scale_1_last_logits")) < 1e-4);
        }
    }

    /**
     * Lower-precision bases: the adapter (fp32) on top adds little error of its own, so the
     * adapted logits stay about as close to PEFT's fp32 ones as the base logits are to
     * transformers' (a 64-wide model is harsh on NF4, where every block is a whole row).
     */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "stories260K-hf-f16, NONE, 0.05",
        "stories260K-hf-bf16, NONE, 0.3",
        "stories260K-hf, INT8, 0.3",
        "stories260K-hf, NF4, 8",
    })
    void closeOnLowerPrecisionBases(String model, WeightQuantization q, float tolerance) throws Exception {
        EngineOptions o = EngineOptions.builder().threads(2).quantization(q).build();
        try (EngineModel m = EngineModel.open(TestModels.model(model), o)) {
            float baseDiff;
            try (EngineSession s = m.newSession()) {
                baseDiff = TestModels.maxAbsDiff(s.forward(input), ref(ref8, "base_last_logits"));
            }
            m.setLoras(List.of(new LoraAdapter("r8", r8, 1.0)));
            float d = check(m, ref(ref8, "adapter_scale_1_last_logits"), tolerance, "r8 on " + model + " " + q);
            LOG.log(System.Logger.Level.INFO, String.format("%s %s: base alone %.3g from transformers, with r8 %.3g from PEFT",
                    model, q, baseDiff, d));
            assertTrue(d <= 2 * baseDiff + 0.02f, "with r8 " + d + " vs base alone " + baseDiff);
        }
    }

    @Test
    void anAdapterForAnotherModelIsRefusedNamingFolderAndTensor() throws Exception {
        try (EngineModel m = EngineModel.open(TestModels.model("tiny-llama-f32"), EngineOptions.builder().threads(1).build())) {
            ModelFileException e = assertThrows(ModelFileException.class, () -> m.setLoras(List.of(new LoraAdapter("r8", r8, 1))));
            assertTrue(e.getMessage().contains(r8.toString()), e.getMessage());
            assertTrue(e.getMessage().contains("lora_"), e.getMessage());
            assertTrue(e.fix().contains("different base model"), e.fix());
            assertEquals(List.of(), m.loras());
        }
    }

    @Test
    void unsupportedPeftFeaturesAreRefused(@TempDir Path tmp) throws Exception {
        String config = Files.readString(r8.resolve("adapter_config.json"));
        record Case(String from, String to, String expect) {
        }
        List<Case> cases = List.of(
                new Case("\"use_dora\": false", "\"use_dora\": true", "DoRA"),
                new Case("\"modules_to_save\": null", "\"modules_to_save\": [\"lm_head\"]", "modules_to_save"),
                new Case("\"bias\": \"none\"", "\"bias\": \"all\"", "bias=all"),
                new Case("\"r\": 8", "\"r\": 4", "rank 4"),
                new Case("\"peft_type\": \"LORA\"", "\"peft_type\": \"IA3\"", "IA3"));
        try (EngineModel m = EngineModel.open(TestModels.model("stories260K-hf"), EngineOptions.builder().threads(1).build())) {
            m.setLoras(List.of(new LoraAdapter("r4-qv", r4, 1.0)));
            int i = 0;
            for (Case c : cases) {
                assertTrue(config.contains(c.from), c.from);
                Path dir = Files.createDirectory(tmp.resolve("case" + i++));
                Files.writeString(dir.resolve("adapter_config.json"), config.replace(c.from, c.to));
                Files.copy(r8.resolve("adapter_model.safetensors"), dir.resolve("adapter_model.safetensors"));
                ModelFileException e = assertThrows(ModelFileException.class, () -> m.setLoras(List.of(new LoraAdapter("x", dir, 1))));
                assertTrue(e.getMessage().contains(c.expect) && e.getMessage().contains(dir.toString()), e.getMessage());
                // The previous set stays applied.
                assertEquals("r4-qv", m.loras().get(0).name());
            }
        }
    }

    @Test
    void anLmHeadAdapterIsRefusedByName(@TempDir Path tmp) throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("lm-head"));
        Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 2, "
                + "\"target_modules\": [\"lm_head\"], \"bias\": \"none\"}");
        try (EngineModel m = EngineModel.open(TestModels.model("stories260K-hf"), EngineOptions.builder().threads(1).build())) {
            int d = m.config().hiddenSize();
            int vocab = m.config().vocabSize();
            java.util.function.BiFunction<Long, Long, java.util.function.Consumer<java.lang.foreign.MemorySegment>> zeros =
                    (r, c) -> seg -> seg.fill((byte) 0);
            io.loadstone.testsupport.SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"), Map.of("format", "pt"),
                    List.of(new io.loadstone.testsupport.SafetensorsWriter.Tensor("base_model.model.lm_head.lora_A.weight",
                                    io.loadstone.engine.safetensors.DType.F32, new long[] {2, d}, zeros.apply(2L, (long) d)),
                            new io.loadstone.testsupport.SafetensorsWriter.Tensor("base_model.model.lm_head.lora_B.weight",
                                    io.loadstone.engine.safetensors.DType.F32, new long[] {vocab, 2}, zeros.apply((long) vocab, 2L))));
            ModelFileException e = assertThrows(ModelFileException.class, () -> m.setLoras(List.of(new LoraAdapter("x", dir, 1))));
            assertTrue(e.getMessage().contains("lm_head") && e.getMessage().contains(dir.toString()), e.getMessage());
        }
    }

    @Test
    void rsloraAndPatternsChangeTheScalingAsPeftDefinesIt(@TempDir Path tmp) throws Exception {
        // r8 has alpha 16, r 8: scaling 2; use_rslora gives 16/√8 = 2·√8.
        // Equivalent adapters at scale 1 are checked against r8 at the matching LoraAdapter.scale.
        String config = Files.readString(r8.resolve("adapter_config.json"));
        Path rs = Files.createDirectory(tmp.resolve("rslora"));
        Files.writeString(rs.resolve("adapter_config.json"), config.replace("\"use_rslora\": false", "\"use_rslora\": true"));
        Files.copy(r8.resolve("adapter_model.safetensors"), rs.resolve("adapter_model.safetensors"));
        Path regex = Files.createDirectory(tmp.resolve("regex"));
        Files.writeString(regex.resolve("adapter_config.json"), config.replaceAll("(?s)\"target_modules\": \\[.*?\\]",
                "\"target_modules\": \".*\\\\\\\\.(q_proj|v_proj)\""));
        Files.copy(r8.resolve("adapter_model.safetensors"), regex.resolve("adapter_model.safetensors"));
        try (EngineModel m = EngineModel.open(TestModels.model("stories260K-hf"), EngineOptions.builder().threads(1).build())) {
            m.setLoras(List.of(new LoraAdapter("rs", rs, 1.0)));
            float[] a;
            try (EngineSession s = m.newSession()) {
                a = s.forward(input);
            }
            m.setLoras(List.of(new LoraAdapter("r8", r8, Math.sqrt(8))));
            try (EngineSession s = m.newSession()) {
                assertTrue(TestModels.maxAbsDiff(a, s.forward(input)) < 1e-5);
            }
            // A regex target_modules string: only q_proj and v_proj are adapted, the other tensors ignored as PEFT does.
            m.setLoras(List.of(new LoraAdapter("regex", regex, 1.0)));
            float[] qv;
            try (EngineSession s = m.newSession()) {
                qv = s.forward(input);
            }
            m.setLoras(List.of(new LoraAdapter("r8", r8, 1.0)));
            try (EngineSession s = m.newSession()) {
                float d = TestModels.maxAbsDiff(qv, s.forward(input));
                assertTrue(d > 0.01, "the regex adapter must differ from all seven modules adapted: " + d);
            }
            // alpha_pattern zeroing every other module (a regex key, matched at the end of the
            // module name as PEFT's get_pattern_key does) leaves the same q_proj/v_proj adapter.
            Path zero = Files.createDirectory(tmp.resolve("alpha-pattern"));
            Files.writeString(zero.resolve("adapter_config.json"), config.replace("\"alpha_pattern\": {}",
                    "\"alpha_pattern\": {\"k_proj|o_proj\": 0, \"mlp\\\\.[a-z_]+\": 0}"));
            Files.copy(r8.resolve("adapter_model.safetensors"), zero.resolve("adapter_model.safetensors"));
            m.setLoras(List.of(new LoraAdapter("zero", zero, 1.0)));
            try (EngineSession s = m.newSession()) {
                assertArrayEquals(qv, s.forward(input));
            }
        }
    }

    @Test
    void anAdapterModelBinGivesTheSameLogitsAsItsSafetensors(@TempDir Path tmp) throws Exception {
        Path bin = Files.createDirectory(tmp.resolve("bin"));
        Files.copy(r8.resolve("adapter_config.json"), bin.resolve("adapter_config.json"));
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            var sf = io.loadstone.engine.safetensors.SafetensorsFile.open(r8.resolve("adapter_model.safetensors"), arena);
            List<io.loadstone.testsupport.TorchSaveWriter.Tensor> tensors = sf.tensors().values().stream()
                    .map(t -> new io.loadstone.testsupport.TorchSaveWriter.Tensor(t.name(), t.dtype(), t.shape(), t.data()))
                    .toList();
            io.loadstone.testsupport.TorchSaveWriter.write(bin.resolve("adapter_model.bin"), tensors);
        }
        try (EngineModel m = EngineModel.open(TestModels.model("stories260K-hf"), EngineOptions.builder().threads(1).build())) {
            m.setLoras(List.of(new LoraAdapter("bin", bin, 1.0)));
            check(m, ref(ref8, "adapter_scale_1_last_logits"), 1e-4f, "r8 from adapter_model.bin");
        }
    }

    /** Swaps happen between forward passes: every pass sees the whole old set or the whole new one. */
    @Test
    void swappingWhileOtherThreadsRunGivesNoMixedPass() throws Exception {
        try (EngineModel m = EngineModel.open(TestModels.model("stories260K-hf"), EngineOptions.builder().threads(2).build())) {
            float[] base;
            float[] adapted;
            try (EngineSession s = m.newSession()) {
                base = s.forward(input);
            }
            m.setLoras(List.of(new LoraAdapter("r8", r8, 1.0)));
            try (EngineSession s = m.newSession()) {
                adapted = s.forward(input);
            }
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicInteger passes = new java.util.concurrent.atomic.AtomicInteger();
            List<java.util.concurrent.CompletableFuture<Void>> runners = new java.util.ArrayList<>();
            for (int i = 0; i < 2; i++) {
                runners.add(java.util.concurrent.CompletableFuture.runAsync(() -> {
                    while (!stop.get()) {
                        try (EngineSession s = m.newSession()) {
                            float[] l = s.forward(input);
                            if (!java.util.Arrays.equals(l, base) && !java.util.Arrays.equals(l, adapted)) {
                                throw new AssertionError("a forward pass saw a mix of adapter sets");
                            }
                            passes.incrementAndGet();
                        }
                    }
                }));
            }
            for (int i = 0; i < 40; i++) {
                m.setLoras(i % 2 == 0 ? List.of() : List.of(new LoraAdapter("r8", r8, 1.0)));
            }
            stop.set(true);
            for (var r : runners) {
                r.get(60, java.util.concurrent.TimeUnit.SECONDS);
            }
            assertTrue(passes.get() > 0);
        }
    }
}
