package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.StopReason;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelEntry;
import io.loadstone.api.runtime.ModelManager;

/**
 * The Transformers loader (pure-Java engine + Hugging Face tokenizer) in a running framework:
 * the runtime detects Hugging Face folders (F32, F16, BF16) as Transformers models, loads them
 * and they tell the known story; its logits agree with the llama.cpp loader's on the same
 * weights in GGUF form, with llama.cpp's KV cache in F32 — llama.cpp is the independent oracle.
 */
class TransformersLoaderTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String GGUF = "stories260K.gguf";
    private static final List<String> HF = List.of("stories260K-hf", "stories260K-hf-f16", "stories260K-hf-bf16");
    static final String LOADER_BSN = "io.loadstone.loader-transformers";

    private ModelManager manager;
    private Path models;

    @BeforeEach
    void setUp() throws Exception {
        String shared = Framework.context().getProperty("loadstone.shared.models");
        assumeTrue(shared != null && Files.isDirectory(Path.of(shared, HF.get(0))), "shared models absent: " + shared);
        models = Framework.workDir("transformers-models");
        for (String name : HF) {
            Path copy = Files.createDirectories(models.resolve(name));
            try (Stream<Path> files = Files.list(Path.of(shared, name))) {
                for (Path f : files.toList()) {
                    Files.copy(f, copy.resolve(f.getFileName()));
                }
            }
        }
        Files.copy(Framework.testBundle(GGUF), models.resolve(GGUF));
        manager = Framework.useModels(models, "max.loaded.models", 3);
        Framework.await("Transformers and llama.cpp loaders", WAIT,
                () -> hasLoader("Transformers") && hasLoader("llama.cpp"));
        Framework.await("all models listed", WAIT, () -> manager.models().size() == HF.size() + 1);
    }

    @AfterEach
    void tearDown() {
        if (manager != null) {
            manager.loaded().forEach(s -> manager.unload(s.name()));
        }
    }

    private boolean hasLoader(String id) {
        return manager.loaders().stream().map(LoaderInfo::id).anyMatch(id::equals);
    }

    @ParameterizedTest
    @ValueSource(strings = { "stories260K-hf", "stories260K-hf-f16", "stories260K-hf-bf16" })
    void huggingFaceFolderIsDetectedLoadedAndTellsTheKnownStory(String name) throws Exception {
        ModelEntry e = manager.models().stream().filter(m -> m.name().equals(name)).findFirst().orElseThrow();
        assertEquals("Transformers", e.bestLoader());
        assertTrue(e.candidates().get(0).detection().reason().startsWith("Hugging Face llama"),
                e.candidates().toString());

        LoadedModelState state = manager.load(name, null, Map.of("threads", 2));
        assertEquals("Transformers", state.info().loaderId());
        assertEquals(2048, state.info().contextLength());

        StringBuilder streamed = new StringBuilder();
        GenerationResult r = manager.generate(name, GenerationRequest.greedy("Once upon a time", 30), (id, t) -> {
            streamed.append(t);
            return true;
        });
        assertEquals(LlamaCppLoaderTest.STORY, r.text());
        assertEquals(r.text(), streamed.toString(), "streamed pieces add up to the result");
        assertEquals(StopReason.LENGTH, r.reason());
    }

    @Test
    void lastLogitsAgreeWithLlamaCppWithAnF32Cache() throws Exception {
        ModelLoader transformers = Framework.loader("Transformers");
        ModelLoader llamaCpp = Framework.loader("llama.cpp");
        try (LoadedModel a = transformers.load(ModelSource.of(models.resolve(HF.get(0))),
                LoaderOptions.validate(transformers.options(), Map.of("threads", 2)));
                LoadedModel b = llamaCpp.load(ModelSource.of(models.resolve(GGUF)), LoaderOptions.validate(llamaCpp
                        .options(), Map.of("n_ctx", 256, "threads", 2, "cache_type", "fp32")))) {
            int[] ids = a.tokenize("Once upon a time, there was a little girl", true);
            assertArrayEquals(ids, b.tokenize("Once upon a time, there was a little girl", true),
                    "same tokens from both tokenizers");
            float[][] x = a.logits().orElseThrow().evaluate(ids, true);
            float[][] y = b.logits().orElseThrow().evaluate(ids, true);
            double diff = 0;
            for (int pos = 0; pos < ids.length; pos++) {
                for (int i = 0; i < x[pos].length; i++) {
                    diff = Math.max(diff, Math.abs(x[pos][i] - y[pos][i]));
                }
            }
            System.getLogger(TransformersLoaderTest.class.getName()).log(System.Logger.Level.INFO,
                    "Transformers vs llama.cpp (F32 KV cache), " + ids.length + " positions: max |diff| " + diff);
            assertTrue(diff < 1e-4, "max abs diff " + diff);
        }
    }

    @Test
    void stoppingTheLoaderBundleClosesItsModels() throws Exception {
        manager.load(HF.get(0), "Transformers", Map.of("threads", 2));
        Bundle loaderBundle = Framework.bundle(LOADER_BSN);
        loaderBundle.stop();
        try {
            Framework.await("loader gone", WAIT, () -> !hasLoader("Transformers"));
            assertTrue(manager.loaded(HF.get(0)).isEmpty(), "its model was closed");
        } finally {
            loaderBundle.start();
        }
        Framework.await("loader back", WAIT, () -> hasLoader("Transformers"));
        manager.load(HF.get(0), null, Map.of("threads", 2));
        assertEquals(LlamaCppLoaderTest.STORY, manager.generate(HF.get(0), GenerationRequest.greedy(
                "Once upon a time", 30), (id, t) -> true).text());
    }
}
