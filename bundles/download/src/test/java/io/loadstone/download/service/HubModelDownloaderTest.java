package io.loadstone.download.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.api.runtime.ModelManager;
import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.DownloadJob;
import io.loadstone.download.DownloadPlan;
import io.loadstone.download.FakeHub;

/** The DS component, driven as SCR drives it: a configuration, an optional runtime, modify, deactivate. */
class HubModelDownloaderTest {

    @TempDir
    Path root;

    FakeHub hub;
    final AtomicInteger refreshes = new AtomicInteger();

    @BeforeEach
    void setUp() throws IOException {
        assumeTrue(System.getenv("HF_ENDPOINT") == null, "HF_ENDPOINT is set here and would override the fake Hub");
        hub = new FakeHub();
        hub.text("acme/tiny", "config.json", "{}");
        hub.lfs("acme/tiny", "model.safetensors", 30_000);
        hub.text("acme/lora", "adapter_config.json", "{}");
        hub.lfs("acme/lora", "adapter_model.safetensors", 3_000);
    }

    @AfterEach
    void tearDown() {
        if (hub != null) {
            hub.close();
        }
    }

    /** A configuration as Config Admin would hand it over: defaults unless given. */
    DownloaderConfig config(Map<String, Object> values) {
        Map<String, Object> v = new HashMap<>(values);
        v.putIfAbsent("endpoint", hub.base().toString());
        v.putIfAbsent("freeSpaceMarginMb", 0L);
        return (DownloaderConfig) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {DownloaderConfig.class}, (p, m, args) -> {
                    if (v.containsKey(m.getName())) {
                        return v.get(m.getName());
                    }
                    Object d = m.getDefaultValue();
                    if (d == null) {
                        throw new UnsupportedOperationException(m.getName());
                    }
                    return d;
                });
    }

    ModelManager runtime(Path modelsDir) {
        return (ModelManager) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {ModelManager.class},
                (p, m, args) -> switch (m.getName()) {
                    case "modelsDir" -> modelsDir;
                    case "refresh" -> {
                        refreshes.incrementAndGet();
                        yield null;
                    }
                    case "models", "loaders", "loaded" -> List.of();
                    case "toString" -> "fake runtime";
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    static void bind(HubModelDownloader c, ModelManager mm) throws ReflectiveOperationException {
        Field f = HubModelDownloader.class.getDeclaredField("modelManager");
        f.setAccessible(true);
        f.set(c, mm); // what SCR does for a dynamic field reference
    }

    @Test
    void usesTheRuntimesModelsFolderAndTellsItAboutNewModels() throws Exception {
        HubModelDownloader c = new HubModelDownloader(config(Map.of()));
        try {
            Path runtimeModels = root.resolve("runtime/models");
            bind(c, runtime(runtimeModels));
            DownloadPlan plan = c.plan(c.parse("acme/tiny"), Optional.empty());
            assertEquals(runtimeModels.resolve("acme_tiny"), plan.target());
            Path target = c.start(plan, null).await();
            assertTrue(Files.isRegularFile(target.resolve("model.safetensors")));
            assertEquals(1, refreshes.get(), "the runtime rescans once the model is there");
            DownloadPlan lora = c.plan(c.parse("acme/lora"), Optional.empty());
            assertEquals(root.resolve("runtime/loras/acme_lora"), lora.target(), "LoRAs next to the models folder");
        } finally {
            c.deactivate();
        }
    }

    @Test
    void configuredFoldersWinAndReconfigurationAppliesToNewPlans() throws Exception {
        HubModelDownloader c = new HubModelDownloader(config(Map.of("modelsDir", root.resolve("a").toString())));
        try {
            bind(c, runtime(root.resolve("runtime")));
            assertEquals(root.resolve("a/acme_tiny"), c.plan(c.parse("acme/tiny"), Optional.empty()).target());
            c.modified(config(Map.of("modelsDir", root.resolve("b").toString(), "lorasDir",
                    root.resolve("l").toString())));
            assertEquals(root.resolve("b/acme_tiny"), c.plan(c.parse("acme/tiny"), Optional.empty()).target());
            assertEquals(root.resolve("l/acme_lora"), c.plan(c.parse("acme/lora"), Optional.empty()).target());
        } finally {
            c.deactivate();
        }
    }

    @Test
    void configuredTokenIsUsed() throws Exception {
        assumeTrue(System.getenv("HF_TOKEN") == null, "HF_TOKEN is set here and would override the configuration");
        hub.requireToken("hf_configured");
        HubModelDownloader c = new HubModelDownloader(config(Map.of("_token", "hf_configured",
                "modelsDir", root.resolve("m").toString())));
        try {
            assertEquals(2, c.listFiles(c.parse("acme/tiny")).size());
        } finally {
            c.deactivate();
        }
    }

    @Test
    void deactivationCancelsRunningDownloadsAndKeepsTheirParts() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        hub.fault("model.safetensors", new FakeHub.Stall(10_000, release));
        HubModelDownloader c = new HubModelDownloader(config(Map.of("modelsDir", root.resolve("m").toString())));
        DownloadJob job;
        CountDownLatch arrived = new CountDownLatch(1);
        try {
            job = c.start(c.plan(c.parse("acme/tiny"), Optional.empty()), e -> {
                if (e instanceof io.loadstone.download.DownloadEvent.Progress p && p.total().bytes() >= 10_000) {
                    arrived.countDown();
                }
            });
            assertEquals(List.of(job), c.running());
            assertTrue(arrived.await(20, java.util.concurrent.TimeUnit.SECONDS), "the stalled file got its bytes");
        } finally {
            c.deactivate();
            release.countDown();
        }
        DownloadException e = assertThrows(DownloadException.class, job::await);
        assertEquals(Reason.CANCELLED, e.reason());
        assertEquals(10_000, Files.size(root.resolve("m/.downloading/acme_tiny/model.safetensors.part")));
        assertArrayEquals(new String[0], Files.list(root.resolve("m")).map(p -> p.getFileName().toString())
                .filter(n -> !n.startsWith(".")).toArray(String[]::new));
    }
}
