package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.wiring.FrameworkWiring;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelManager;

/**
 * Moving between llama.cpp builds while the framework runs: installing the v0.5.0 fragment (and
 * refreshing the runtime it attaches to) makes v0.5.0 serve, which runs Qwen3 that b4916 refuses in
 * Java; uninstalling it brings b4916 back. stories260K tells the same story on both.
 */
class LlamaCppBuildSwapTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final String V050_BSN = "io.loadstone.llamacpp-v050-linux-x86_64";

    private Bundle v050;

    @AfterEach
    void tearDown() throws Exception {
        if (v050 != null && v050.getState() != Bundle.UNINSTALLED) {
            v050.uninstall();
            refreshRuntime();
        }
    }

    /**
     * The build property of the LlamaRuntime service, looked up by name: importing its package
     * would make this bundle a dependant that the runtime's refresh restarts mid-test.
     */
    private static String servingBuild() {
        var ref = Framework.context().getServiceReference("io.loadstone.llamacpp.LlamaRuntime");
        return ref == null ? "" : String.valueOf(ref.getProperty("loadstone.llamacpp.build"));
    }

    private static void refreshRuntime() throws Exception {
        Bundle runtime = Framework.bundle(LlamaCppLoaderTest.RUNTIME_BSN);
        Framework.context().getBundle(0).adapt(FrameworkWiring.class).refreshBundles(List.of(runtime));
    }

    private static boolean hasLoader(ModelManager manager) {
        return manager.loaders().stream().map(LoaderInfo::id).anyMatch("llama.cpp"::equals);
    }

    private static String greedy(ModelManager manager, String model, String prompt, int n) throws Exception {
        return manager.generate(model, GenerationRequest.greedy(prompt, n), (id, t) -> true).text();
    }

    @Test
    void theV050FragmentIsAPluginThatServesQwen3AndLeavesAgain() throws Exception {
        String shared = Framework.context().getProperty("loadstone.shared.models");
        Path qwen3 = Path.of(String.valueOf(shared), "tiny-qwen3-gguf", "tiny-qwen3-f32.gguf");
        assumeTrue(Files.isRegularFile(qwen3), "shared models absent: " + shared);
        Path models = Framework.workDir("llamacpp-builds");
        Files.copy(Framework.testBundle("stories260K.gguf"), models.resolve("stories260K.gguf"));
        Files.copy(qwen3, models.resolve("tiny-qwen3-f32.gguf"));
        ModelManager manager = Framework.useModels(models);
        Framework.await("llama.cpp loader", WAIT, () -> hasLoader(manager));
        assertEquals("llama.cpp-b4916", servingBuild());
        ModelLoadException refused = assertThrows(ModelLoadException.class, () -> manager.load(
                "tiny-qwen3-f32.gguf", "llama.cpp", Map.of("n_ctx", 256)));
        assertTrue(refused.getMessage().contains("'qwen3' needs a newer llama.cpp build") && refused.getMessage()
                .contains("install the llama.cpp-v0.5.0 native fragment " + V050_BSN), refused.getMessage());

        v050 = Framework.install(Framework.testBundle("llamacpp-v050-linux-x86_64.jar"));
        refreshRuntime();
        Framework.await("v0.5.0 serving", WAIT, () -> servingBuild().equals("llama.cpp-v0.5.0") && hasLoader(
                manager));
        manager.load("stories260K.gguf", "llama.cpp", Map.of("n_ctx", 256, "threads", 2));
        assertEquals(LlamaCppLoaderTest.STORY, greedy(manager, "stories260K.gguf", "Once upon a time", 30),
                "v0.5.0 tells b4916's story");
        manager.unload("stories260K.gguf");
        var state = manager.load("tiny-qwen3-f32.gguf", "llama.cpp", Map.of("n_ctx", 256, "threads", 2));
        assertEquals(256, state.info().contextLength());
        assertEquals(8, manager.generate("tiny-qwen3-f32.gguf", GenerationRequest.greedy("Once upon a time", 8),
                (id, t) -> true).generatedTokens(), "a random Qwen3 emits its 8 tokens (no end token among them)");
        manager.unload("tiny-qwen3-f32.gguf");

        v050.uninstall();
        refreshRuntime();
        Framework.await("b4916 back", WAIT, () -> servingBuild().equals("llama.cpp-b4916") && hasLoader(manager));
        manager.load("stories260K.gguf", "llama.cpp", Map.of("n_ctx", 256));
        assertEquals(LlamaCppLoaderTest.STORY, greedy(manager, "stories260K.gguf", "Once upon a time", 30));
        manager.unload("stories260K.gguf");
    }
}
