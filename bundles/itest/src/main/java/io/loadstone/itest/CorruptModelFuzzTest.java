package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.google.gson.JsonObject;

import io.loadstone.api.runtime.ModelManager;

/**
 * Seeded fuzzing of the real loaders in the real framework over HTTP, as a user with a damaged
 * download meets them: mutated copies of stories260K.gguf go to the llama.cpp and llamacpp_HF
 * loaders, mutated stories260K-hf folders (weights and config.json) to the Transformers loader.
 * Every answer must be a clean 200 or 4xx (never 5xx, never a hang: each request has a deadline);
 * a variant that reached native code and crashed would end this JVM and fail the run. Known
 * crashers found with a child-process harness are replayed first as a regression corpus. The
 * seed comes from {@code loadstone.fuzz.seed} (a fixed default, so runs are reproducible).
 */
class CorruptModelFuzzTest {

    static final int GGUF_VARIANTS = 1000;
    static final int SAFETENSORS_VARIANTS = 300;
    static final long DEFAULT_SEED = 20261208L;
    private static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json");

    /**
     * Variants that killed the process in llama.cpp before GgufModelCheck refused them (source
     * file, seed, index, and the mutator's description, which must still match so the corpus
     * means what it meant), found by loading mutants in child JVMs: integer-typed weights (a
     * null kernel, SIGSEGV), integer or F16 norms and biases (GGML_ASSERT in the CPU code), a
     * BERT tokenizer on a llama model (abort), general.file_type in another type (the GGUF
     * getter's assertion), an odd rope.dimension_count (GGML_ASSERT n_dims % 2 == 0).
     */
    static final Object[][] GGUF_CRASHERS = {
        {"stories260K.gguf", 1L, 60, "tensor blk.2.ffn_gate.weight as I32"},
        {"stories260K.gguf", 1L, 77, "tensor blk.4.ffn_norm.weight as I32"},
        {"stories260K.gguf", 1L, 115, "tensor blk.3.attn_q.weight as I32"},
        {"stories260K.gguf", 1L, 132, "tensor blk.2.ffn_norm.weight as I8"},
        {"stories260K.gguf", 3L, 227, "tokenizer.ggml.model = bert"},
        {"stories260K.gguf", 3L, 233, "tokenizer.ggml.model retyped to STRING = bert"},
        {"tiny-gpt2-gguf/tiny-gpt2-q8_0.gguf", 4L, 491, "general.file_type retyped to FLOAT64 = NaN"},
        {"tiny-gpt2-gguf/tiny-gpt2-q8_0.gguf", 4L, 722, "tensor blk.1.attn_output.bias as F16"},
        {"tiny-gpt2-gguf/tiny-gpt2-q8_0.gguf", 4L, 739, "tensor output_norm.bias as F16"},
        {"tiny-gptneox-gguf/tiny-gpt-neox-f32.gguf", 7L, 236, "gptneox.rope.dimension_count = 3"},
        {"tiny-gptneox-gguf/tiny-gpt-neox-f32.gguf", 7L, 305, "gptneox.rope.dimension_count = 1"},
    };

    private Path shared;
    private Path models;
    private ModelManager manager;
    private WebServer web;

    @BeforeEach
    void setUp() throws Exception {
        String s = Framework.context().getProperty("loadstone.shared.models");
        assumeTrue(s != null && Files.isDirectory(Path.of(s, "stories260K-hf")), "shared models absent: " + s);
        shared = Path.of(s);
        models = Framework.workDir("fuzz-models");
        manager = Framework.useModels(models, "max.loaded.models", 1);
        web = WebServer.start();
    }

    @AfterEach
    void tearDown() {
        if (manager != null) {
            manager.loaded().forEach(st -> manager.unload(st.name()));
        }
    }

    private static long seed() {
        String s = Framework.context().getProperty("loadstone.fuzz.seed");
        return s == null ? Long.getLong("loadstone.fuzz.seed", DEFAULT_SEED) : Long.parseLong(s.trim());
    }

    /** Counts for the closing line, and every 5xx with the variant that caused it. */
    static final class Tally {
        int variants;
        int refused;
        int loaded;
        final List<String> failures = new ArrayList<>();

        void answer(String what, HttpResponse<String> r) {
            if (r.statusCode() >= 500) {
                failures.add(what + " -> HTTP " + r.statusCode() + " " + r.body());
            }
        }

        String summary(String kind) {
            return kind + ": " + variants + " variants, " + refused + " clean refusals, " + loaded
                    + " loads that worked, 0 JVM deaths, " + failures.size() + " 5xx";
        }
    }

    /** Loads {@code model} with {@code loader} over HTTP; when it loads, generates a few tokens and unloads it. */
    private void loadOnce(Tally t, String what, String model, String loader) throws Exception {
        t.variants++;
        manager.refresh();
        HttpResponse<String> r = web.post("v1/internal/model/load", "{\"model_name\":\"" + model + "\",\"args\":"
                + "{\"loader\":\"" + loader + "\"}}");
        t.answer(what + " [load " + loader + "]", r);
        if (r.statusCode() != 200) {
            if (r.statusCode() < 500) {
                t.refused++;
                JsonObject e = WebServer.json(r).getAsJsonObject().getAsJsonObject("error");
                assertTrue(e != null && !e.get("message").getAsString().isBlank(), what + ": no message: " + r.body());
            }
            return;
        }
        t.loaded++;
        HttpResponse<String> g = web.post("v1/completions", "{\"model\":\"" + model + "\",\"prompt\":\"Once upon a "
                + "time\",\"max_tokens\":4,\"temperature\":0}");
        t.answer(what + " [generate]", g);
        manager.unload(model);
    }

    @Test
    void mutatedGgufFilesNeverTakeTheServerDown() throws Exception {
        Path folder = Files.createDirectories(models.resolve("fuzz-gguf"));
        for (String f : TOKENIZER_FILES) {
            Files.copy(shared.resolve("stories260K-hf").resolve(f), folder.resolve(f));
        }
        Path target = folder.resolve("model.gguf");
        Path source = shared.resolve("stories260K.gguf");
        Files.copy(source, target);
        Framework.await("fuzz folder listed", Duration.ofSeconds(20), () -> {
            manager.refresh();
            return manager.models().stream().anyMatch(m -> m.name().equals("fuzz-gguf"));
        });
        long start = System.nanoTime();
        // The corpus: each must now be refused in Java, before llama.cpp sees it.
        for (Object[] c : GGUF_CRASHERS) {
            GgufMutator.Variant v = new GgufMutator(shared.resolve((String) c[0]), (Long) c[1]).variant((Integer) c[2]);
            assertEquals(c[3], v.description(), "the mutator changed: corpus entry " + c[0] + " " + c[1] + "/" + c[2]);
            Files.write(target, v.bytes());
            manager.refresh();
            HttpResponse<String> r = web.post("v1/internal/model/load", "{\"model_name\":\"fuzz-gguf\",\"args\":"
                    + "{\"loader\":\"llama.cpp\"}}");
            assertEquals(422, r.statusCode(), v.description() + ": " + r.body());
            assertEquals("invalid_model_file", WebServer.json(r).getAsJsonObject().getAsJsonObject("error")
                    .get("code").getAsString());
        }
        long seed = seed();
        GgufMutator mutator = new GgufMutator(source, seed);
        Tally t = new Tally();
        for (int i = 0; i < GGUF_VARIANTS; i++) {
            GgufMutator.Variant v = mutator.variant(i);
            Files.write(target, v.bytes());
            loadOnce(t, "gguf seed " + seed + " #" + i + " (" + v.description() + ")", "fuzz-gguf",
                    i % 4 == 3 ? "llamacpp_HF" : "llama.cpp");
        }
        System.out.printf("Fuzz %s in %.1f s (seed %d)%n", t.summary("GGUF"), (System.nanoTime() - start) / 1e9,
                seed);
        assertEquals(List.of(), t.failures);
        assertTrue(t.refused > 0 && t.loaded > 0, t.summary("GGUF"));
        Files.copy(source, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        manager.refresh();
        assertEquals(200, web.post("v1/internal/model/load", "{\"model_name\":\"fuzz-gguf\",\"args\":{\"loader\":"
                + "\"llama.cpp\"}}").statusCode(), "the intact file still loads afterwards");
    }

    @Test
    void mutatedSafetensorsFoldersNeverTakeTheServerDown() throws Exception {
        Path original = shared.resolve("stories260K-hf");
        Path folder = Files.createDirectories(models.resolve("fuzz-hf"));
        try (var files = Files.list(original)) {
            for (Path f : files.toList()) {
                Files.copy(f, folder.resolve(f.getFileName()));
            }
        }
        Framework.await("fuzz folder listed", Duration.ofSeconds(20), () -> {
            manager.refresh();
            return manager.models().stream().anyMatch(m -> m.name().equals("fuzz-hf"));
        });
        long start = System.nanoTime();
        long seed = seed();
        SafetensorsMutator mutator = new SafetensorsMutator(original, seed);
        Tally t = new Tally();
        for (int i = 0; i < SAFETENSORS_VARIANTS; i++) {
            SafetensorsMutator.Variant v = mutator.variant(i);
            Files.write(folder.resolve("model.safetensors"), v.weights());
            Files.writeString(folder.resolve("config.json"), v.config());
            loadOnce(t, "safetensors seed " + seed + " #" + i + " (" + v.description() + ")", "fuzz-hf",
                    "Transformers");
        }
        System.out.printf("Fuzz %s in %.1f s (seed %d)%n", t.summary("safetensors"),
                (System.nanoTime() - start) / 1e9, seed);
        assertEquals(List.of(), t.failures);
        assertTrue(t.refused > 0 && t.loaded > 0, t.summary("safetensors"));
    }
}
