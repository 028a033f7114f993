package io.loadstone.llamacpp.loading;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.gson.JsonObject;

import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.gguf.GgufFile;
import io.loadstone.llamacpp.CacheType;
import io.loadstone.llamacpp.ContextParams;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.ModelParams;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.llamacpp.SecondaryContext;
import io.loadstone.testsupport.Logits;
import io.loadstone.testsupport.References;
import io.loadstone.testsupport.SharedModels;

/** {@link AppliedLoras} on the runtime itself: what is freed, what is cached, secondary contexts, GGUF LoRAs. */
class AppliedLorasTest {

    private static final System.Logger LOG = System.getLogger(AppliedLorasTest.class.getName());

    private static LlamaLibrary library;
    private static GgufFile base;
    private static JsonObject ref;
    private static int[] ids;

    @BeforeAll
    static void setUp() throws Exception {
        library = LlamaLibrary.load(io.loadstone.testsupport.NativeLibraries.llamaCpp(), "llama.cpp-b4916");
        base = GgufFile.read(SharedModels.stories());
        ref = References.read(r8().resolve("reference.json"));
        ids = References.ints(ref.getAsJsonArray("input_ids"));
    }

    @AfterAll
    static void tearDown() {
        if (library != null) {
            library.close();
        }
    }

    private static Path r8() {
        return SharedModels.root().resolve("stories260K-lora-r8");
    }

    private static Path r4() {
        return SharedModels.root().resolve("stories260K-lora-r4-qv");
    }

    private static NativeModel open() throws LlamaException {
        return library.runtime().open(SharedModels.stories(), ModelParams.defaults(),
                ContextParams.defaults().withContext(128).withThreads(1, 1).withCache(CacheType.F32, CacheType.F32));
    }

    private static float[] last(io.loadstone.llamacpp.InferenceContext c) throws LlamaException {
        c.clearKvCache();
        c.decode(ids, 0);
        return c.lastLogits();
    }

    @Test
    void aSetThatIsReplacedIsFreedNatively(@TempDir Path dir) throws Exception {
        try (NativeModel m = open()) {
            // A cache folder, so that the cycles below measure llama.cpp's loads and frees, not conversions.
            AppliedLoras loras = new AppliedLoras(m, base, dir, List.of());
            assertTrue(loras.apply(List.of(new LoraAdapter("r8", r8(), 1))));
            io.loadstone.llamacpp.LoraAdapter first = loras.loaded().getFirst();
            assertFalse(loras.apply(List.of(new LoraAdapter("r8", r8(), 1))), "the same set again changes nothing");
            assertTrue(loras.apply(List.of(new LoraAdapter("r8", r8(), 0.5), new LoraAdapter("r4", r4(), 1))));
            assertEquals(first, loras.loaded().getFirst(), "an adapter that stays is not loaded again");
            List<io.loadstone.llamacpp.LoraAdapter> two = loras.loaded();
            assertTrue(loras.apply(List.of()));
            for (io.loadstone.llamacpp.LoraAdapter a : two) {
                LlamaException e = assertThrows(LlamaException.class, () -> m.setLora(a, 1), "freed: " + a);
                assertTrue(e.getMessage().contains("closed"), e.getMessage());
            }
            // Many switches: resident memory stays flat. r8 + r4-qv hold ~0.25 MB of F32 tensors, so 400
            // cycles that leaked them would add ~100 MB. Warm up first: the Java heap grows to its working size.
            for (int i = 0; i < 100; i++) {
                cycle(loras);
            }
            System.gc();
            long before = rssKb();
            for (int i = 0; i < 400; i++) {
                cycle(loras);
            }
            System.gc();
            long grown = rssKb() - before;
            LOG.log(System.Logger.Level.INFO, "400 load/free cycles of r8 + r4-qv: RSS grew by " + grown + " kB");
            assertTrue(grown < 30 * 1024, "RSS grew by " + grown + " kB");
            assertEquals(0, loras.loadedCount());
        }
    }

    private static void cycle(AppliedLoras loras) throws ModelLoadException {
        loras.apply(List.of(new LoraAdapter("r8", r8(), 1), new LoraAdapter("r4", r4(), 1)));
        loras.apply(List.of());
    }

    private static long rssKb() throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return 0;
    }

    @Test
    void secondaryContextsRunWithTheSameAdapters() throws Exception {
        try (NativeModel m = open()) {
            SecondaryContext second = m.newContext();
            AppliedLoras loras = new AppliedLoras(m, base, null, List.of(second));
            loras.apply(List.of(new LoraAdapter("r8", r8(), 1)));
            float[] expected = References.floats(ref.getAsJsonArray("adapter_scale_1_last_logits"));
            assertTrue(Logits.maxAbsDiff(expected, last(m)) < 1e-4);
            assertArrayEquals(last(m), last(second));
            // Freeing an adapter deactivates it in every context first (no dangling pointer in the second one).
            loras.apply(List.of());
            assertArrayEquals(last(m), last(second));
            assertTrue(Logits.maxAbsDiff(References.floats(ref.getAsJsonArray("base_last_logits")), last(second))
                    < 1e-4);
        }
    }

    @Test
    void conversionsAreCachedPerBaseModelAndRedoneWhenTheAdapterChanges(@TempDir Path dir) throws Exception {
        Path cache = dir.resolve("cache");
        Path mine = Files.createDirectories(dir.resolve("my-lora"));
        Files.copy(r8().resolve("adapter_config.json"), mine.resolve("adapter_config.json"));
        Files.copy(r8().resolve("adapter_model.safetensors"), mine.resolve("adapter_model.safetensors"));
        Path converted;
        try (NativeModel m = open()) {
            new AppliedLoras(m, base, cache, List.of()).apply(List.of(new LoraAdapter("my", mine, 1)));
            converted = single(cache);
        }
        FileTime made = Files.getLastModifiedTime(converted);
        try (NativeModel m = open()) {
            new AppliedLoras(m, base, cache, List.of()).apply(List.of(new LoraAdapter("my", mine, 1)));
            assertEquals(converted, single(cache), "reused after a reload");
            assertEquals(made, Files.getLastModifiedTime(converted));
        }
        Files.setLastModifiedTime(mine.resolve("adapter_model.safetensors"), FileTime.fromMillis(made.toMillis()
                + 60_000));
        try (NativeModel m = open()) {
            AppliedLoras loras = new AppliedLoras(m, base, cache, List.of());
            loras.apply(List.of(new LoraAdapter("my", mine, 1)));
            Path again = single(cache);
            assertFalse(again.equals(converted), "a changed adapter is converted again, the stale file deleted");
            assertTrue(Logits.maxAbsDiff(References.floats(ref.getAsJsonArray("adapter_scale_1_last_logits")),
                    last(m)) < 1e-4);
        }
        try (Stream<Path> s = Files.list(mine)) {
            assertEquals(2, s.count(), "nothing written into the adapter folder");
        }
    }

    private static Path single(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> files = s.toList();
            assertEquals(1, files.size(), files.toString());
            return files.getFirst();
        }
    }

    @Test
    void aGgufLoraIsUsedAsItIsAfterTheSameChecks(@TempDir Path dir) throws Exception {
        Path gguf = dir.resolve("r8.gguf");
        PeftLoraConverter.convert(r8(), base, gguf);
        Path folder = Files.createDirectories(dir.resolve("r8-gguf"));
        Files.copy(gguf, folder.resolve("adapter.gguf"));
        try (NativeModel m = open()) {
            AppliedLoras loras = new AppliedLoras(m, base, dir.resolve("cache"), List.of());
            float[] expected = References.floats(ref.getAsJsonArray("adapter_scale_1_last_logits"));
            loras.apply(List.of(new LoraAdapter("file", gguf, 1)));
            assertTrue(Logits.maxAbsDiff(expected, last(m)) < 1e-4);
            loras.apply(List.of(new LoraAdapter("folder", folder, 1)));
            assertTrue(Logits.maxAbsDiff(expected, last(m)) < 1e-4);
            assertFalse(Files.exists(dir.resolve("cache")), "a GGUF LoRA needs no conversion");
            // The base model is no adapter: refused in Java with the reason.
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> loras.apply(List.of(new LoraAdapter("base", SharedModels.stories(), 1))));
            assertTrue(e.getMessage().contains("not a GGUF LoRA adapter"), e.getMessage());
            assertTrue(Logits.maxAbsDiff(expected, last(m)) < 1e-4, "the previous set stays");
        }
    }
}
