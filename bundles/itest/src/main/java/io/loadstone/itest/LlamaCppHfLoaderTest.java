package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.Sampling;
import io.loadstone.api.loader.StopReason;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelEntry;
import io.loadstone.api.runtime.ModelManager;

/**
 * The llamacpp_HF loader (GGUF on llama.cpp, Hugging Face tokenizer and samplers) in a running
 * framework: a folder with the GGUF and its tokenizer files is offered to it (the llama.cpp
 * loader stays first), loads through the runtime and tells the known story; its guided (CFG)
 * text is the Transformers loader's on the same weights; its default tokenizer folder is a
 * Config Admin setting; uninstalling its bundle closes its model.
 */
class LlamaCppHfLoaderTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    static final String LOADER_BSN = "io.loadstone.loader-llamacpp-hf";
    private static final String PID = "io.loadstone.loader.llamacpphf";
    private static final String FOLDER = "stories260K-HF";
    private static final String BARE = "stories260K.gguf";
    private static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json");

    private ModelManager manager;
    private Path models;
    private Path shared;

    @BeforeEach
    void setUp() throws Exception {
        String s = Framework.context().getProperty("loadstone.shared.models");
        assumeTrue(s != null && Files.isDirectory(Path.of(s, "stories260K-hf")), "shared models absent: " + s);
        shared = Path.of(s);
        models = Framework.workDir("llamacpp-hf-models");
        Path folder = Files.createDirectories(models.resolve(FOLDER));
        Files.copy(Framework.testBundle(BARE), folder.resolve(BARE));
        copyTokenizer(folder);
        Files.copy(Framework.testBundle(BARE), models.resolve(BARE));
        manager = Framework.useModels(models, "max.loaded.models", 3);
        Framework.await("llamacpp_HF and llama.cpp loaders", WAIT, () -> hasLoader("llamacpp_HF")
                && hasLoader("llama.cpp"));
        Framework.await("both models listed", WAIT, () -> manager.models().size() == 2);
    }

    @AfterEach
    void tearDown() {
        if (manager != null) {
            manager.loaded().forEach(st -> manager.unload(st.name()));
        }
    }

    private void copyTokenizer(Path into) throws Exception {
        Files.createDirectories(into);
        for (String f : TOKENIZER_FILES) {
            Files.copy(shared.resolve("stories260K-hf").resolve(f), into.resolve(f));
        }
    }

    private boolean hasLoader(String id) {
        return manager.loaders().stream().map(LoaderInfo::id).anyMatch(id::equals);
    }

    private ModelEntry entry(String name) {
        return manager.models().stream().filter(m -> m.name().equals(name)).findFirst().orElseThrow();
    }

    private static boolean offers(ModelEntry e, String loader) {
        return e.candidates().stream().anyMatch(c -> c.loaderId().equals(loader));
    }

    private String greedy(String model, int n) throws ModelLoadException {
        StringBuilder sb = new StringBuilder();
        GenerationResult r = manager.generate(model, GenerationRequest.greedy("Once upon a time", n), (id, t) -> {
            sb.append(t);
            return true;
        });
        assertEquals(sb.toString(), r.text(), "streamed pieces add up to the result");
        assertEquals(StopReason.LENGTH, r.reason());
        return r.text();
    }

    @Test
    void folderWithTokenizerLoadsThroughTheRuntimeAndTellsTheKnownStory() throws Exception {
        ModelEntry e = entry(FOLDER);
        assertEquals("llama.cpp", e.bestLoader(), "llama.cpp stays the default for GGUF");
        assertTrue(offers(e, "llamacpp_HF"), e.candidates().toString());
        assertFalse(offers(entry(BARE), "llamacpp_HF"), "no tokenizer for a bare GGUF file");

        LoadedModelState state = manager.load(FOLDER, "llamacpp_HF", Map.of("n_ctx", 256, "threads", 2));
        assertEquals("llamacpp_HF", state.info().loaderId());
        assertEquals(256, state.info().contextLength());
        assertEquals(LlamaCppLoaderTest.STORY, greedy(FOLDER, 30));
        assertTrue(manager.loaders().stream().filter(l -> l.id().equals("llamacpp_HF")).findFirst().orElseThrow()
                .capabilities().cfg());
    }

    private static ModelLoader loader(String id) throws Exception {
        Collection<ServiceReference<ModelLoader>> refs = Framework.context().getServiceReferences(ModelLoader.class,
                "(" + ModelLoader.LOADER_ID + "=" + id + ")");
        assertEquals(1, refs.size(), "one " + id + " loader service");
        return Framework.context().getService(refs.iterator().next());
    }

    @Test
    void guidedTextIsTheTransformersLoadersOnTheSameWeights() throws Exception {
        Path hf = models.resolve("stories260K-hf");
        Files.createDirectories(hf);
        try (var files = Files.list(shared.resolve("stories260K-hf"))) {
            for (Path f : files.toList()) {
                Files.copy(f, hf.resolve(f.getFileName()));
            }
        }
        ModelLoader hfLoader = loader("llamacpp_HF");
        ModelLoader transformers = loader("Transformers");
        GenerationRequest cfg = new GenerationRequest("Once upon a time", 30, Map.of(Sampling.DO_SAMPLE, false,
                Sampling.GUIDANCE_SCALE, 3.0), List.of(), true, false, "The dog was sad");
        try (LoadedModel a = hfLoader.load(ModelSource.of(models.resolve(FOLDER)), LoaderOptions.validate(hfLoader
                .options(), Map.of("cfg_cache", true, "cache_type", "fp32", "n_ctx", 256)));
                LoadedModel b = transformers.load(ModelSource.of(hf), LoaderOptions.validate(transformers.options(),
                        Map.of("threads", 2)))) {
            String x = a.generate(cfg, (i, t) -> true).text();
            String y = b.generate(cfg, (i, t) -> true).text();
            System.getLogger(getClass().getName()).log(System.Logger.Level.INFO, "CFG 3.0 text: " + x);
            assertEquals(y, x);
            assertNotEquals(LlamaCppLoaderTest.STORY, x, "guidance changed the story");
        }
    }

    @Test
    void defaultTokenizerFolderIsAConfigAdminSetting() throws Exception {
        Path tokenizer = Framework.workDir("llama-tokenizer");
        copyTokenizer(tokenizer);
        ConfigurationAdmin ca = Framework.service(ConfigurationAdmin.class, WAIT);
        Configuration c = ca.getConfiguration(PID, "?");
        c.update(Framework.props("tokenizer.dir", tokenizer.toString()));
        try {
            Framework.await("the bare GGUF offered to llamacpp_HF", WAIT, () -> offers(entry(BARE), "llamacpp_HF"));
            assertTrue(entry(BARE).candidates().stream().filter(x -> x.loaderId().equals("llamacpp_HF")).findFirst()
                    .orElseThrow().detection().reason().contains(tokenizer.getFileName().toString()));
            assertEquals("llama.cpp", entry(BARE).bestLoader());
            manager.load(BARE, "llamacpp_HF", Map.of("n_ctx", 256));
            assertEquals(LlamaCppLoaderTest.STORY, greedy(BARE, 30));
        } finally {
            manager.loaded().forEach(st -> manager.unload(st.name()));
            c.delete();
        }
        Framework.await("the bare GGUF no longer offered", WAIT, () -> hasLoader("llamacpp_HF")
                && !offers(entry(BARE), "llamacpp_HF"));
    }

    @Test
    void uninstallingTheLoaderBundleClosesItsModelThenItComesBack() throws Exception {
        manager.load(FOLDER, "llamacpp_HF", Map.of("n_ctx", 256, "cfg_cache", true));
        Bundle bundle = Framework.bundle(LOADER_BSN);
        bundle.uninstall();
        Framework.await("loader gone", WAIT, () -> !hasLoader("llamacpp_HF"));
        assertTrue(manager.loaded(FOLDER).isEmpty(), "its model was closed");
        assertTrue(hasLoader("llama.cpp"), "the llama.cpp loader is not affected");

        Bundle back = Framework.install(Framework.testBundle("loader-llamacpp-hf.jar"));
        back.start();
        Framework.await("loader back", WAIT, () -> hasLoader("llamacpp_HF"));
        manager.load(FOLDER, "llamacpp_HF", Map.of("n_ctx", 256));
        assertEquals(LlamaCppLoaderTest.STORY, greedy(FOLDER, 30));
    }
}
