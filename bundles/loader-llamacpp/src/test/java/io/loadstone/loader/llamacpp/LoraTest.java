package io.loadstone.loader.llamacpp;

import io.loadstone.llamacpp.loading.PeftLoraConverter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.gson.JsonObject;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.gguf.GgufFile;
import io.loadstone.llamacpp.CacheType;
import io.loadstone.llamacpp.ContextParams;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.runner.RunnerLaunch;
import io.loadstone.llamacpp.runner.RunnerRuntime;
import io.loadstone.llamacpp.LoraAdapter;
import io.loadstone.llamacpp.ModelParams;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.llamacpp.SamplerParams;
import io.loadstone.llamacpp.TokenSampler;

/**
 * PEFT adapters converted to GGUF and applied at run time through the runtime's LoRA calls,
 * one and two at a time and at other scales, against logits computed by PEFT.
 */
class LoraTest {

    private static final System.Logger LOG = System.getLogger(LoraTest.class.getName());
    /** F32 KV cache and weights: llama.cpp and PyTorch agree to ~1e-5 (see the references' own checks). */
    private static final double TOLERANCE = 1e-4;

    private static LlamaLibrary library;
    private static JsonObject r8;
    private static JsonObject r4;
    private static Path r8Gguf;
    private static Path r4Gguf;

    @BeforeAll
    static void setUp(@TempDir Path dir) throws Exception {
        library = RunnerRuntime.start(RunnerLaunch.outsideOsgi(TestFiles.library(), "llama.cpp-b4916")).asLibrary();
        r8 = TestFiles.reference();
        r4 = JsonReading.read(TestFiles.models().resolve("stories260K-lora-r4-qv/reference.json"));
        GgufFile base = GgufFile.read(TestFiles.stories());
        r8Gguf = dir.resolve("r8.gguf");
        r4Gguf = dir.resolve("r4-qv.gguf");
        PeftLoraConverter.convert(TestFiles.models().resolve("stories260K-lora-r8"), base, r8Gguf);
        PeftLoraConverter.convert(TestFiles.models().resolve("stories260K-lora-r4-qv"), base, r4Gguf);
    }

    @AfterAll
    static void tearDown() {
        if (library != null) {
            library.close();
        }
    }

    private static NativeModel open() throws LlamaException {
        return library.runtime().open(TestFiles.stories(), ModelParams.defaults(),
                ContextParams.defaults().withContext(256).withThreads(1, 1).withCache(CacheType.F32, CacheType.F32));
    }

    private static float[] lastLogits(NativeModel m) throws LlamaException {
        m.clearKvCache();
        m.decode(TestFiles.ints(r8, "input_ids"), 0);
        return m.lastLogits();
    }

    private static double check(String what, float[] got, JsonObject ref, String key) {
        double d = TestFiles.maxAbsDiff(TestFiles.floats(ref, key), got);
        LOG.log(System.Logger.Level.INFO, what + ": max |logit - PEFT| = " + d);
        assertTrue(d < TOLERANCE, what + ": max abs diff " + d);
        return d;
    }

    @Test
    void convertedAdaptersAreValidGguf() throws Exception {
        GgufFile a = GgufFile.read(r8Gguf);
        assertEquals("adapter", a.string("general.type").orElseThrow());
        assertEquals(70, a.tensors().size());
        assertEquals(16.0, a.number("adapter.lora.alpha").orElseThrow(), 0);
        assertEquals(20, GgufFile.read(r4Gguf).tensors().size());
    }

    @Test
    void oneTwoAndScaledAdaptersMatchPeft() throws Exception {
        try (NativeModel m = open(); LoraAdapter a8 = m.loadLora(r8Gguf); LoraAdapter a4 = m.loadLora(r4Gguf)) {
            check("base", lastLogits(m), r8, "base_last_logits");
            m.setLora(a8, 1f);
            check("r8 scale 1", lastLogits(m), r8, "adapter_scale_1_last_logits");
            m.setLora(a8, 0.5f);
            check("r8 scale 0.5", lastLogits(m), r8, "adapter_scale_0.5_last_logits");
            m.setLora(a8, 1f);
            m.setLora(a4, 1f);
            check("r8 + r4-qv", lastLogits(m), r8, "both_adapters_last_logits");
            assertArrayEquals(TestFiles.ints(r8, "both_adapters_greedy_ids"), greedy(m, 30));
            assertTrue(m.removeLora(a8));
            assertFalse(m.removeLora(a8));
            check("r4-qv alone", lastLogits(m), r4, "adapter_scale_1_last_logits");
            m.clearLoras();
            check("base again", lastLogits(m), r8, "base_last_logits");
            m.setLora(a8, 1f);
            assertArrayEquals(TestFiles.ints(r8, "adapter_greedy_ids"), greedy(m, 30));
        }
    }

    @Test
    void closingAnActiveAdapterDeactivatesItFirst() throws Exception {
        try (NativeModel m = open()) {
            LoraAdapter a = m.loadLora(r8Gguf);
            m.setLora(a, 1f);
            a.close();
            check("after closing the adapter", lastLogits(m), r8, "base_last_logits");
            assertThrows(LlamaException.class, () -> m.setLora(a, 1f));
            // Adapters still loaded when the model closes are freed with it.
            m.setLora(m.loadLora(r4Gguf), 1f);
        }
    }

    @Test
    void aBaseModelIsNotAnAdapter(@TempDir Path dir) throws Exception {
        Path other = TestFiles.storiesWith(dir.resolve("wide.gguf"), java.util.Map.of());
        try (NativeModel m = open()) {
            Path notAdapter = other; // a base model, not an adapter
            LlamaException e = assertThrows(LlamaException.class, () -> m.loadLora(notAdapter));
            assertTrue(e.getMessage().contains("wide.gguf"), e.getMessage());
            LOG.log(System.Logger.Level.INFO, "base model as adapter: " + e.getMessage());
        }
    }

    @Test
    void whatCannotBeConvertedIsSaidClearly(@TempDir Path dir) throws Exception {
        GgufFile base = GgufFile.read(TestFiles.stories());
        Path empty = Files.createDirectory(dir.resolve("empty"));
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> PeftLoraConverter.convert(empty, base, dir.resolve("x.gguf")));
        assertTrue(e.getMessage().contains("adapter_config.json"), e.getMessage());
        Path bin = Files.createDirectory(dir.resolve("bin"));
        Files.copy(TestFiles.models().resolve("stories260K-lora-r8/adapter_config.json"),
                bin.resolve("adapter_config.json"));
        Files.writeString(bin.resolve("adapter_model.bin"), "pickle");
        e = assertThrows(ModelLoadException.class, () -> PeftLoraConverter.convert(bin, base, dir.resolve("y.gguf")));
        assertTrue(e.fix().contains("safetensors"), e.fix());
        Path cut = Files.createDirectory(dir.resolve("cut"));
        Files.copy(TestFiles.models().resolve("stories260K-lora-r8/adapter_config.json"),
                cut.resolve("adapter_config.json"));
        byte[] st = Files.readAllBytes(TestFiles.models().resolve("stories260K-lora-r8/adapter_model.safetensors"));
        Files.write(cut.resolve("adapter_model.safetensors"), java.util.Arrays.copyOf(st, st.length - 100));
        e = assertThrows(ModelLoadException.class, () -> PeftLoraConverter.convert(cut, base, dir.resolve("z.gguf")));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("z.gguf")));
    }

    @Test
    void qkRowReorderingMatchesLlamaCpp() throws Exception {
        // 1 head of 4 rows, 1 column: HF rows [a0 a1 b0 b1] -> llama.cpp [a0 b0 a1 b1].
        assertArrayEquals(new float[] {0, 2, 1, 3},
                PeftLoraConverter.permuteRows(new float[] {0, 1, 2, 3}, 4, 1, 1, "t"));
        assertThrows(ModelLoadException.class, () -> PeftLoraConverter.permuteRows(new float[6], 6, 1, 4, "t"));
    }

    private static int[] greedy(NativeModel m, int n) throws LlamaException {
        int[] prompt = TestFiles.ints(r8, "input_ids");
        m.clearKvCache();
        m.decode(prompt, 0);
        int[] out = new int[n];
        try (TokenSampler s = m.newSampler(SamplerParams.greedyDecoding())) {
            for (int i = 0; i < n; i++) {
                out[i] = s.sample();
                m.decode(new int[] {out[i]}, prompt.length + i);
            }
        }
        return out;
    }

    /** Small JSON helper for the second reference file. */
    static final class JsonReading {
        static JsonObject read(Path p) throws java.io.IOException {
            try (var r = Files.newBufferedReader(p)) {
                return com.google.gson.JsonParser.parseReader(r).getAsJsonObject();
            }
        }
    }
}
