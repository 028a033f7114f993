package io.loadstone.loader.transformers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.loader.engine.EnginePlan;
import io.loadstone.sampling.SamplerSettings;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** detect() on real and fixture folders, option refusals and warnings, and file errors. */
class DetectionAndOptionsTest {

    @TempDir
    Path tmp;

    private final TransformersLoader loader = TestModels.loader();

    private static String withConfig(String config, String key, String json) {
        int end = config.lastIndexOf('}');
        return config.substring(0, end) + ", \"" + key + "\": " + json + "\n}";
    }

    @Test
    void plainCheckpointsArePreferredWithTheirWeightType() {
        assertEquals(new Detection(90, "Hugging Face llama, F32 safetensors"),
                loader.detect(ModelSource.of(TestModels.model("stories260K-hf"))));
        assertEquals(new Detection(90, "Hugging Face llama, F16 safetensors"),
                loader.detect(ModelSource.of(TestModels.model("stories260K-hf-f16"))));
        assertEquals(new Detection(90, "Hugging Face llama, BF16 safetensors"),
                loader.detect(ModelSource.of(TestModels.model("stories260K-hf-bf16"))));
    }

    @Test
    void gptqAndAwqFoldersAreAcceptedBehindTheirOwnLoadersAndExl2IsLeftToExLlamav2() throws Exception {
        Detection gptq = loader.detect(ModelSource.of(TestModels.model("tiny-llama-gptq-4bit-32g-actorder")));
        assertEquals(new Detection(Detection.COMPATIBLE, "GPTQ 4-bit group 32 act-order "
                + "(quantize_config.json), llama"), gptq);
        Detection awq = loader.detect(ModelSource.of(TestModels.model("stories260K-awq-4bit-64g-gemm")));
        assertEquals(Detection.COMPATIBLE, awq.score(), awq.reason());
        assertTrue(awq.reason().startsWith("AWQ 4-bit group 64"), awq.reason());

        Path exl2 = TestModels.copy(TestModels.model("stories260K-hf"), tmp.resolve("exl2"));
        Path config = exl2.resolve("config.json");
        Files.writeString(config, withConfig(Files.readString(config), "quantization_config",
                "{\"quant_method\": \"exl2\", \"bits\": 4.0}"));
        Detection d = loader.detect(ModelSource.of(exl2));
        assertEquals(Detection.no("EXL2 4-bit: use ExLlamav2_HF, ExLlamav2"), d);
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> loader.load(ModelSource.of(exl2), LoaderOptions.of(Map.of())));
        assertTrue(e.getMessage().contains("ExLlamav2_HF"), e.userMessage());
        ModelLoadException twice = assertThrows(ModelLoadException.class, () -> loader.load(ModelSource.of(
                TestModels.model("stories260K-gptq-4bit-32g-actorder")), LoaderOptions.of(Map.of("load_in_8bit", true))));
        assertTrue(twice.getMessage().contains("already quantized"), twice.getMessage());
    }

    @Test
    void remoteCodeIsNeverRun() throws Exception {
        Path dir = TestModels.copy(TestModels.model("stories260K-hf"), tmp.resolve("remote"));
        Path config = dir.resolve("config.json");
        Files.writeString(config, withConfig(Files.readString(config), "auto_map",
                "{\"AutoModelForCausalLM\": \"modeling_x.XForCausalLM\"}"));
        Detection d = loader.detect(ModelSource.of(dir));
        assertEquals(Detection.no("needs trust-remote-code: Loadstone never runs code from model repos"), d);
        for (boolean trust : new boolean[] {false, true}) {
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> loader.load(ModelSource.of(dir),
                    LoaderOptions.of(Map.of("trust_remote_code", trust))));
            assertTrue(e.getMessage().contains("never runs code") && e.getMessage().contains("config.json"),
                    e.getMessage());
            assertEquals(trust, e.getMessage().contains("trust_remote_code cannot allow it"));
        }
    }

    @Test
    void otherFoldersAreRefusedWithTheReason() throws Exception {
        Path dir = TestModels.copy(TestModels.model("stories260K-hf"), tmp.resolve("gpt2"));
        Path config = dir.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"llama\"", "\"gpt2\""));
        Detection d = loader.detect(ModelSource.of(dir));
        assertEquals(0, d.score());
        assertTrue(d.reason().contains("gpt2") && d.reason().contains("llama"), d.reason());

        Path noWeights = Files.createDirectories(tmp.resolve("bin"));
        Files.copy(TestModels.model("stories260K-hf").resolve("config.json"), noWeights.resolve("config.json"));
        assertTrue(loader.detect(ModelSource.of(noWeights)).reason().contains("no weights"));
        // pytorch_model.bin is detected from its name alone (detect stays cheap); load() checks it.
        Files.writeString(noWeights.resolve("pytorch_model.bin"), "pickle");
        assertTrue(loader.detect(ModelSource.of(noWeights)).reason().contains("pytorch_model.bin"));
        assertTrue(loader.detect(ModelSource.of(TestModels.model("stories260K-hf").resolveSibling("stories260K.gguf"))).reason().contains("not a folder"));
        assertFalse(loader.detect(ModelSource.of(tmp)).accepted());
    }

    @Test
    void missingTokenizerJsonIsNamed() throws Exception {
        Path dir = TestModels.copy(TestModels.model("stories260K-hf"), tmp.resolve("notok"));
        Files.delete(dir.resolve("tokenizer.json"));
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> loader.load(ModelSource.of(dir), LoaderOptions.of(Map.of())));
        assertTrue(e.getMessage().contains(dir.resolve("tokenizer.json").toString()), e.getMessage());
    }

    @Test
    void truncatedSafetensorsIsNamed() throws Exception {
        Path dir = TestModels.copy(TestModels.model("stories260K-hf"), tmp.resolve("cut"));
        Path weights = dir.resolve("model.safetensors");
        try (FileChannel ch = FileChannel.open(weights, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 1000);
        }
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> loader.load(ModelSource.of(dir), LoaderOptions.of(Map.of())));
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
        assertFalse(e.fix().isEmpty());
    }

    @Test
    void fp4AndBothQuantizationsAreRefused() {
        Path m = TestModels.model("stories260K-hf");
        ModelLoadException fp4 = assertThrows(ModelLoadException.class, () -> loader.load(ModelSource.of(m),
                LoaderOptions.of(Map.of("load_in_4bit", true, "quant_type", "fp4"))));
        assertTrue(fp4.getMessage().contains("fp4") && fp4.fix().contains("nf4"), fp4.userMessage());
        ModelLoadException both = assertThrows(ModelLoadException.class, () -> loader.load(ModelSource.of(m),
                LoaderOptions.of(Map.of("load_in_4bit", true, "load_in_8bit", true))));
        assertTrue(both.getMessage().contains("load_in_8bit and load_in_4bit"), both.getMessage());
        assertThrows(ModelLoadException.class, () -> loader.load(ModelSource.of(m),
                LoaderOptions.of(Map.of("no_such_option", 1))));
    }

    @Test
    void optionsWithoutEffectAreMarkedAndWarnedAbout() throws Exception {
        for (String name : List.of("cpu", "use_double_quant", "compute_dtype", "gpu_memory",
                "disk", "auto_devices", "trust_remote_code", "no_use_fast", "use_flash_attention_2")) {
            OptionSpec s = loader.options().stream().filter(o -> o.name().equals(name)).findFirst().orElseThrow();
            assertTrue(s.applies() != null && !s.applies().isBlank(), name);
        }
        ModelLoadException flash = assertThrows(ModelLoadException.class, () -> loader.load(
                ModelSource.of(TestModels.model("stories260K-hf")), LoaderOptions.of(Map.of("use_flash_attention_2", true))));
        assertTrue(flash.getMessage().contains("CUDA") && flash.fix().contains("off"), flash.getMessage());
        Map<String, Object> set = Map.of("no_use_fast", true, "gpu_memory", "10GiB",
                "trust_remote_code", true);
        try (LoadedModel m = loader.load(ModelSource.of(TestModels.model("stories260K-hf")), LoaderOptions.of(set))) {
            List<String> w = m.info().warnings();
            for (String name : set.keySet()) {
                assertTrue(w.stream().anyMatch(s -> s.startsWith(name + " has no effect")), name + " in " + w);
            }
            assertTrue(w.stream().anyMatch(s -> s.contains("one tokenizer implementation")), w.toString());
        }
        try (LoadedModel m = loader.load(ModelSource.of(TestModels.model("stories260K-hf")),
                LoaderOptions.of(Map.of()))) {
            assertEquals(List.of(), m.info().warnings());
            assertEquals(2048, m.info().contextLength(), "max_position_embeddings 2048, under the 8192 cap");
            assertEquals(2048, m.info().trainedContextLength());
            assertEquals(512, m.info().vocabSize());
            assertEquals("Transformers", m.info().loaderId());
            assertEquals(2048L, m.info().effectiveOptions().get("max_seq_len"));
        }
    }

    @Test
    void bf16LoadsAnF32CheckpointAsTheBf16CheckpointComputes() throws Exception {
        int[] ids = {1, 403, 407, 261, 378};
        float[] cast;
        try (LoadedModel m = loader.load(ModelSource.of(TestModels.model("stories260K-hf-bf16")), LoaderOptions.of(Map.of()))) {
            cast = m.logits().orElseThrow().evaluate(ids, false)[0];
        }
        try (LoadedModel m = loader.load(ModelSource.of(TestModels.model("stories260K-hf")),
                LoaderOptions.of(Map.of("bf16", true)))) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(cast, m.logits().orElseThrow().evaluate(ids, false)[0]);
            assertEquals(List.of(), m.info().warnings());
        }
        try (LoadedModel m = loader.load(ModelSource.of(TestModels.model("stories260K-hf")),
                LoaderOptions.of(Map.of("bf16", true, "load_in_8bit", true)))) {
            assertTrue(m.info().warnings().stream().anyMatch(w -> w.startsWith("bf16 applies to the embedding")),
                    m.info().warnings().toString());
        }
    }

    @Test
    void cpuMemoryIsABudgetBeyondWhichLayersStayMappedFromDisk() throws Exception {
        OptionSpec spec = loader.options().stream().filter(o -> o.name().equals("cpu_memory")).findFirst().orElseThrow();
        assertEquals(null, spec.applies(), "cpu_memory does something here");
        assertEquals(0, EnginePlan.memoryBudget(""));
        assertEquals(0, EnginePlan.memoryBudget("0"));
        assertEquals(4L << 30, EnginePlan.memoryBudget("4"));
        assertEquals(3L << 29, EnginePlan.memoryBudget("1.5GiB"));
        assertEquals(512L << 20, EnginePlan.memoryBudget("512 MiB"));
        assertEquals(2L << 30, EnginePlan.memoryBudget("2gb"));
        ModelLoadException bad = assertThrows(ModelLoadException.class, () -> EnginePlan.memoryBudget("lots"));
        assertTrue(bad.getMessage().contains("'lots'") && bad.fix().contains("GiB"), bad.getMessage() + " / " + bad.fix());
        Path dir = TestModels.model("stories260K-hf");
        int[] ids = {1, 403, 407, 261, 378};
        float[] f32;
        try (LoadedModel m = loader.load(ModelSource.of(dir), LoaderOptions.of(Map.of()))) {
            f32 = m.logits().orElseThrow().evaluate(ids, false)[0];
        }
        // 0.0001 GiB = 107 KB: room for about half of stories260K's int8 matrices.
        try (LoadedModel m = loader.load(ModelSource.of(dir),
                LoaderOptions.of(Map.of("load_in_8bit", true, "cpu_memory", "0.0001")))) {
            List<String> w = m.info().warnings();
            assertTrue(w.stream().anyMatch(s -> s.startsWith("cpu_memory: ") && s.contains("stay memory-mapped from disk")),
                    w.toString());
            float[] mixed = m.logits().orElseThrow().evaluate(ids, false)[0];
            assertNotEquals(f32[0], mixed[0], "the first layers are int8");
        }
        // Nothing fits: every matrix stays as stored, so an int8 request computes the F32 model exactly.
        try (LoadedModel m = loader.load(ModelSource.of(dir),
                LoaderOptions.of(Map.of("load_in_8bit", true, "cpu_memory", "0.000000001")))) {
            float[] none = m.logits().orElseThrow().evaluate(ids, false)[0];
            org.junit.jupiter.api.Assertions.assertArrayEquals(f32, none);
        }
    }

    @Test
    void ropeAndQuantizationOptionsChangeTheModel() throws Exception {
        Path dir = TestModels.model("stories260K-hf");
        int[] ids = {1, 403, 407, 261, 378};
        float[] plain;
        try (LoadedModel m = loader.load(ModelSource.of(dir), LoaderOptions.of(Map.of()))) {
            plain = m.logits().orElseThrow().evaluate(ids, false)[0];
        }
        for (Map<String, Object> o : List.<Map<String, Object>>of(Map.of("compress_pos_emb", 2.0),
                Map.of("alpha_value", 2.5), Map.of("rope_freq_base", 500), Map.of("load_in_8bit", true),
                Map.of("load_in_4bit", true))) {
            try (LoadedModel m = loader.load(ModelSource.of(dir), LoaderOptions.of(o))) {
                float[] got = m.logits().orElseThrow().evaluate(ids, false)[0];
                double diff = 0;
                for (int i = 0; i < got.length; i++) {
                    diff = Math.max(diff, Math.abs(got[i] - plain[i]));
                }
                assertTrue(diff > 1e-4, o + " moved the logits by " + diff);
                assertEquals(List.of(), m.info().warnings(), o.toString());
                // The generation still runs.
                assertEquals(5, m.generate(GenerationRequest.greedy("Once upon a time", 5), (i, t) -> true)
                        .generatedTokens());
            }
        }
    }

    @Test
    void capabilitiesNameTheEngineFeatures() {
        Capabilities c = loader.capabilities();
        assertEquals(Capabilities.LoraSupport.MULTI, c.lora());
        assertTrue(c.cfg() && c.logits());
        assertEquals(SamplerSettings.supportedParameters(), c.samplers());
        assertEquals("Transformers", loader.id());
        assertNotEquals(loader.id(), loader.description());
    }
}
