package io.loadstone.download.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.download.DownloadPlan;
import io.loadstone.download.FakeHub;
import io.loadstone.download.TestSettings;

/**
 * The project's real model files served by the fake Hub: what arrives must match the published SHA256SUMS
 * byte for byte, and land where the loaders look (a HF folder, a LoRA folder, a GGUF file).
 */
class SharedModelsTest {

    @TempDir
    Path root;

    Path shared;
    Map<String, String> sums = new HashMap<>();
    FakeHub hub;
    Downloader downloader;

    @BeforeEach
    void setUp() throws IOException {
        String dir = System.getProperty("loadstone.shared.models");
        assumeTrue(dir != null && Files.isRegularFile(Path.of(dir, "SHA256SUMS")),
                "shared model files not found (loadstone.shared.models=" + dir + "): skipping");
        shared = Path.of(dir);
        for (String line : Files.readAllLines(shared.resolve("SHA256SUMS"))) {
            String[] f = line.trim().split("\\s+\\*?", 2);
            if (f.length == 2) {
                sums.put(f[1].startsWith("./") ? f[1].substring(2) : f[1], f[0]);
            }
        }
        hub = new FakeHub();
        downloader = new Downloader(TestSettings.of(hub.base(), root), TestSettings.noEnv());
    }

    @AfterEach
    void tearDown() {
        if (downloader != null) {
            downloader.close();
        }
        if (hub != null) {
            hub.close();
        }
    }

    /** Publishes a shared folder as a repo: weights in LFS, the rest in git, like the Hub does. */
    void publish(String repo, String folder) throws IOException {
        try (Stream<Path> s = Files.list(shared.resolve(folder))) {
            for (Path p : s.sorted().toList()) {
                String name = p.getFileName().toString();
                hub.add(repo, name, Files.readAllBytes(p), name.endsWith(".safetensors") || name.endsWith(".gguf"));
            }
        }
    }

    void assertMatchesSums(Path dir, String folder, List<String> names) throws IOException {
        for (String n : names) {
            String expected = sums.get(folder + "/" + n);
            assertTrue(expected != null, "SHA256SUMS lists " + folder + "/" + n);
            assertEquals(expected, FakeHub.sha256(Files.readAllBytes(dir.resolve(n))), n);
        }
    }

    @Test
    void hfFolderModel() throws Exception {
        publish("karpathy/stories260K-hf", "stories260K-hf");
        DownloadPlan plan = downloader.plan(downloader.parse("karpathy/stories260K-hf"), Optional.empty());
        Path target = downloader.start(plan, null).await();
        assertEquals(root.resolve("models/karpathy_stories260K-hf").toAbsolutePath(), target);
        assertMatchesSums(target, "stories260K-hf", List.of("config.json", "model.safetensors", "tokenizer.json",
                "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"));
        assertTrue(Files.readString(target.resolve("huggingface-metadata.txt"))
                .contains(sums.get("stories260K-hf/model.safetensors") + " model.safetensors"));
    }

    @Test
    void loraAdapter() throws Exception {
        publish("karpathy/stories260K-lora-r8", "stories260K-lora-r8");
        Path target = downloader.start(downloader.plan(downloader.parse("karpathy/stories260K-lora-r8"),
                Optional.empty()), null).await();
        assertEquals(root.resolve("loras/karpathy_stories260K-lora-r8").toAbsolutePath(), target);
        assertMatchesSums(target, "stories260K-lora-r8", List.of("adapter_config.json", "adapter_model.safetensors"));
    }

    @Test
    void ggufFile() throws Exception {
        hub.add("karpathy/tinyllamas-GGUF", "stories260K.gguf", Files.readAllBytes(shared.resolve("stories260K.gguf")),
                true);
        hub.text("karpathy/tinyllamas-GGUF", "README.md", "tiny");
        Path target = downloader.start(downloader.plan(downloader.parse("karpathy/tinyllamas-GGUF"),
                Optional.empty()), null).await();
        assertEquals(root.resolve("models/stories260K.gguf").toAbsolutePath(), target);
        assertEquals("270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d",
                FakeHub.sha256(Files.readAllBytes(target)));
    }
}
