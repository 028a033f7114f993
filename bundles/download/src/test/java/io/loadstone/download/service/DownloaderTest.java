package io.loadstone.download.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.download.DownloadEvent;
import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.DownloadJob;
import io.loadstone.download.DownloadPlan;
import io.loadstone.download.DownloadPlan.Layout;
import io.loadstone.download.FakeHub;
import io.loadstone.download.RemoteFile;
import io.loadstone.download.RepoRef;
import io.loadstone.download.TestSettings;

/** Whole downloads against the fake Hub: layouts, pagination, redirects, metadata, parallelism, re-downloads. */
class DownloaderTest {

    @TempDir
    Path root;

    FakeHub hub;
    Downloader downloader;
    final List<Path> published = new CopyOnWriteArrayList<>();
    final List<URI> requested = new CopyOnWriteArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        hub = new FakeHub();
    }

    @AfterEach
    void tearDown() {
        if (downloader != null) {
            downloader.close();
        }
        hub.close();
    }

    Downloader downloader(Settings s) {
        downloader = new Downloader(s, TestSettings.noEnv(), ConcurrentHashMap.newKeySet(), published::add,
                requested::add);
        return downloader;
    }

    Downloader downloader() {
        return downloader(TestSettings.of(hub.base(), root));
    }

    Path models() {
        return root.resolve("models");
    }

    /** Everything visible in a folder (names not starting with '.'). */
    static Set<String> visible(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return Set.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith("."))
                    .collect(java.util.stream.Collectors.toCollection(TreeSet::new));
        }
    }

    /** Every file below a folder, as relative paths. */
    static Set<String> tree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).map(p -> dir.relativize(p).toString().replace('\\', '/'))
                    .collect(java.util.stream.Collectors.toCollection(TreeSet::new));
        }
    }

    static DownloadPlan plan(Downloader d, String input, String file) throws DownloadException {
        return d.plan(d.parse(input), Optional.ofNullable(file));
    }

    @Test
    void downloadsAWholeRepoAcrossPagesWithLfsRedirectsAndWritesMetadata() throws Exception {
        hub.pageSize(3);
        hub.text("acme/tiny", "config.json", "{\"model_type\":\"llama\"}");
        hub.text("acme/tiny", "tokenizer_config.json", "{}");
        hub.text("acme/tiny", "README.md", "# tiny");
        hub.text("acme/tiny", "model.safetensors.index.json", "{\"weight_map\":{}}");
        FakeHub.FakeFile w1 = hub.lfs("acme/tiny", "model-00001-of-00002.safetensors", 300_000);
        FakeHub.FakeFile w2 = hub.lfs("acme/tiny", "model-00002-of-00002.safetensors", 123_457);
        hub.lfs("acme/tiny", "pytorch_model.bin", 200_000);
        hub.lfs("acme/tiny", "logo.png", 5_000);
        hub.text("acme/tiny", "original/params.json", "{\"dim\":64}");

        Downloader d = downloader();
        DownloadPlan plan = plan(d, "acme/tiny", null);
        assertEquals(Layout.FOLDER, plan.layout());
        assertEquals(models().resolve("acme_tiny"), plan.target());
        assertEquals(List.of("README.md", "config.json", "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors", "model.safetensors.index.json", "original/params.json",
                "tokenizer_config.json"), plan.files().stream().map(RemoteFile::path).sorted().toList());
        assertTrue(hub.requests("/tree/").size() >= 3, "the listing spans several pages: " + hub.requests("/tree/"));

        List<DownloadEvent> events = new CopyOnWriteArrayList<>();
        DownloadJob job = d.start(plan, events::add);
        Path target = job.await();

        assertEquals(models().resolve("acme_tiny"), target);
        assertEquals(Set.of("README.md", "config.json", "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors", "model.safetensors.index.json", "original/params.json",
                "tokenizer_config.json", "huggingface-metadata.txt"), tree(target));
        assertArrayEquals(w1.content(), Files.readAllBytes(target.resolve("model-00001-of-00002.safetensors")));
        assertArrayEquals(w2.content(), Files.readAllBytes(target.resolve("model-00002-of-00002.safetensors")));
        assertEquals("{\"dim\":64}", Files.readString(target.resolve("original/params.json")));
        String meta = Files.readString(target.resolve("huggingface-metadata.txt"));
        assertTrue(meta.startsWith("url: " + hub.base() + "/acme/tiny\nbranch: main\ndownload date: "), meta);
        assertTrue(meta.contains("\nsha256sum:\n    " + w1.sha256() + " model-00001-of-00002.safetensors\n"), meta);
        assertTrue(meta.contains("    " + w2.sha256() + " model-00002-of-00002.safetensors\n"), meta);

        assertEquals(Set.of("acme_tiny"), visible(models()));
        assertEquals(Set.of(), visible(models().resolve(".downloading")), "staging is empty afterwards");
        assertTrue(hub.requests("pytorch_model.bin").isEmpty(), "skipped weights are not fetched");
        assertEquals(2, hub.requests("/cdn-lfs/").size(), "LFS files come through the redirect");
        assertEquals(List.of(target), published);
        DownloadEvent last = events.get(events.size() - 1);
        assertTrue(last instanceof DownloadEvent.Completed c && !c.alreadyPresent()
                && c.bytesFetched() == plan.totalBytes(), String.valueOf(last));
        assertEquals(plan.files().size(), events.stream().filter(e -> e instanceof DownloadEvent.FileVerified).count());
        DownloadEvent.Progress p = job.progress();
        assertEquals(plan.totalBytes(), p.total().bytes());
        assertEquals(plan.files().size(), p.filesDone());
    }

    @Test
    void branchGoesIntoTheFolderNameAndIntoTheUrlAsOneSegment() throws Exception {
        hub.add("acme/tiny", "refs/pr/1", "config.json", "{}".getBytes(StandardCharsets.UTF_8), false);
        hub.add("acme/tiny", "dev", "config.json", "{\"dev\":1}".getBytes(StandardCharsets.UTF_8), false);
        Downloader d = downloader();
        Path pr = d.start(plan(d, "acme/tiny:refs/pr/1", null), null).await();
        assertEquals(models().resolve("acme_tiny_refs_pr_1"), pr);
        assertTrue(hub.requests().stream().anyMatch(r -> r.path().equals("/api/models/acme/tiny/tree/refs%2Fpr%2F1")),
                hub.requests().toString());
        assertTrue(hub.requests().stream().anyMatch(r -> r.path().equals("/acme/tiny/resolve/refs%2Fpr%2F1/config.json")));
        Path dev = d.start(plan(d, hub.base() + "/acme/tiny/tree/dev", null), null).await();
        assertEquals(models().resolve("acme_tiny_dev"), dev);
        assertEquals("{\"dev\":1}", Files.readString(dev.resolve("config.json")));
        assertTrue(Files.readString(dev.resolve("huggingface-metadata.txt")).contains("branch: dev\n"));
    }

    @Test
    void loraRepoGoesToTheLoraFolder() throws Exception {
        hub.text("acme/tiny-lora", "adapter_config.json", "{\"r\":8}");
        FakeHub.FakeFile w = hub.lfs("acme/tiny-lora", "adapter_model.safetensors", 40_000);
        hub.lfs("acme/tiny-lora", "adapter_model.bin", 40_000);
        Downloader d = downloader();
        DownloadPlan plan = plan(d, "acme/tiny-lora", null);
        assertTrue(plan.lora());
        Path target = d.start(plan, null).await();
        assertEquals(root.resolve("loras").resolve("acme_tiny-lora"), target);
        assertEquals(Set.of("adapter_config.json", "adapter_model.safetensors", "huggingface-metadata.txt"),
                tree(target));
        assertArrayEquals(w.content(), Files.readAllBytes(target.resolve("adapter_model.safetensors")));
        assertEquals(Set.of(), visible(models()));
    }

    @Test
    void ggufRepoAsksForAChoiceThenPutsTheChosenFileStraightIntoModels() throws Exception {
        hub.text("acme/tiny-GGUF", "README.md", "quants");
        hub.lfs("acme/tiny-GGUF", "tiny.Q8_0.gguf", 90_000);
        FakeHub.FakeFile q4 = hub.lfs("acme/tiny-GGUF", "tiny.Q4_K_M.gguf", 50_000);
        hub.lfs("acme/tiny-GGUF", "tiny.Q2_K.gguf", 30_000);
        Downloader d = downloader();
        DownloadPlan choose = plan(d, "acme/tiny-GGUF", null);
        assertTrue(choose.needsChoice());
        assertEquals(List.of("tiny.Q2_K.gguf", "tiny.Q4_K_M.gguf", "tiny.Q8_0.gguf"),
                choose.ggufChoices().stream().map(c -> c.file()).toList());
        assertTrue(choose.describe().contains("tiny.Q4_K_M.gguf  (50.0 kB)"), choose.describe());
        DownloadException e = assertThrows(DownloadException.class, () -> d.start(choose, null));
        assertEquals(Reason.CHOICE_NEEDED, e.reason());
        assertTrue(hub.requests("/resolve/").isEmpty());

        DownloadPlan plan = plan(d, "acme/tiny-GGUF", "tiny.Q4_K_M.gguf");
        assertEquals(Layout.SINGLE_FILE, plan.layout());
        Path target = d.start(plan, null).await();
        assertEquals(models().resolve("tiny.Q4_K_M.gguf"), target);
        assertArrayEquals(q4.content(), Files.readAllBytes(target));
        assertEquals(Set.of("tiny.Q4_K_M.gguf"), visible(models()));
        assertFalse(Files.exists(models().resolve(".downloading/tiny.Q4_K_M.gguf")), "staging folder removed");
    }

    @Test
    void directResolveUrlNamesTheFile() throws Exception {
        FakeHub.FakeFile q4 = hub.lfs("acme/tiny-GGUF", "quants/tiny.Q4_K_M.gguf", 20_000);
        hub.lfs("acme/tiny-GGUF", "quants/tiny.Q8_0.gguf", 30_000);
        Downloader d = downloader();
        RepoRef ref = d.parse(hub.base() + "/acme/tiny-GGUF/resolve/main/quants/tiny.Q4_K_M.gguf?download=true");
        assertEquals(Optional.of("quants/tiny.Q4_K_M.gguf"), ref.file());
        Path target = d.start(d.plan(ref, Optional.empty()), null).await();
        assertEquals(models().resolve("tiny.Q4_K_M.gguf"), target);
        assertArrayEquals(q4.content(), Files.readAllBytes(target));
    }

    @Test
    void splitGgufComesWholeIntoAFolderOfItsOwn() throws Exception {
        List<FakeHub.FakeFile> parts = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            parts.add(hub.lfs("acme/big-GGUF", "Q4_K_M/big-Q4_K_M-0000" + i + "-of-00003.gguf", 20_000 + i));
        }
        hub.lfs("acme/big-GGUF", "big-Q8_0.gguf", 70_000);
        Downloader d = downloader();
        DownloadPlan plan = plan(d, "acme/big-GGUF", "big-Q4_K_M-00002-of-00003.gguf");
        assertEquals(Layout.SPLIT_GGUF, plan.layout());
        Path target = d.start(plan, null).await();
        assertEquals(models().resolve("big-Q4_K_M"), target);
        assertEquals(Set.of("big-Q4_K_M-00001-of-00003.gguf", "big-Q4_K_M-00002-of-00003.gguf",
                "big-Q4_K_M-00003-of-00003.gguf", "huggingface-metadata.txt"), tree(target));
        for (int i = 1; i <= 3; i++) {
            assertArrayEquals(parts.get(i - 1).content(),
                    Files.readAllBytes(target.resolve("big-Q4_K_M-0000" + i + "-of-00003.gguf")));
        }
    }

    @Test
    void secondDownloadOfTheSameRepoFindsItCompleteAndFetchesNothing() throws Exception {
        hub.text("acme/tiny", "config.json", "{}");
        hub.lfs("acme/tiny", "model.safetensors", 50_000);
        Downloader d = downloader();
        Path first = d.start(plan(d, "acme/tiny", null), null).await();
        int resolves = hub.requests("/resolve/").size();
        DownloadJob again = d.start(plan(d, "acme/tiny", null), null);
        assertEquals(first, again.await());
        assertTrue(again.outcome().orElseThrow() instanceof DownloadEvent.Completed c && c.alreadyPresent());
        assertEquals(resolves, hub.requests("/resolve/").size(), "nothing fetched the second time");
        assertFalse(Files.exists(models().resolve(".downloading/acme_tiny")));
    }

    @Test
    void existingFolderThatIsNotThisDownloadIsLeftAlone() throws Exception {
        hub.lfs("acme/tiny", "model.safetensors", 50_000);
        Files.createDirectories(models().resolve("acme_tiny"));
        Files.writeString(models().resolve("acme_tiny/model.safetensors"), "my own file");
        Downloader d = downloader();
        DownloadException e = assertThrows(DownloadException.class,
                () -> d.start(plan(d, "acme/tiny", null), null).await());
        assertEquals(Reason.ALREADY_EXISTS, e.reason());
        assertTrue(e.getMessage().contains("acme_tiny") && e.getMessage().contains("delete or rename"), e.getMessage());
        assertEquals("my own file", Files.readString(models().resolve("acme_tiny/model.safetensors")));
        assertTrue(hub.requests("/resolve/").isEmpty());
        assertFalse(Files.exists(models().resolve(".downloading/acme_tiny")), "no empty staging folder left");
    }

    @Test
    void filesAreFetchedInParallel() throws Exception {
        CountDownLatch gate = new CountDownLatch(4);
        for (int i = 0; i < 4; i++) {
            hub.lfs("acme/four", "model-0000" + (i + 1) + "-of-00004.safetensors", 30_000 + i);
            hub.fault("model-0000" + (i + 1) + "-of-00004.safetensors", new FakeHub.Gate(gate));
        }
        Downloader d = downloader(TestSettings.of(hub.base(), root).withParallelFiles(4));
        Path target = d.start(plan(d, "acme/four", null), null).await();
        assertEquals(0, gate.getCount(), "all four requests were open at the same time");
        assertEquals(5, tree(target).size());
    }

    @Test
    void oneFileAtATimeWhenConfiguredSo() throws Exception {
        for (int i = 0; i < 3; i++) {
            hub.lfs("acme/three", "model-0000" + (i + 1) + "-of-00003.safetensors", 100_000);
        }
        hub.chunk(4096);
        Downloader d = downloader(TestSettings.of(hub.base(), root).withParallelFiles(1));
        d.start(plan(d, "acme/three", null), null).await();
        assertEquals(1, hub.maxConcurrentBodies());
    }

    @Test
    void twoJobsForTheSameTargetDoNotRunTogether() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        hub.lfs("acme/tiny", "model.safetensors", 200_000);
        hub.fault("model.safetensors", new FakeHub.Stall(50_000, release));
        Downloader d = downloader();
        DownloadPlan plan = plan(d, "acme/tiny", null);
        DownloadJob first = d.start(plan, null);
        try {
            DownloadException e = assertThrows(DownloadException.class, () -> d.start(plan, null));
            assertEquals(Reason.BUSY, e.reason());
            assertEquals(List.of(first), d.running());
        } finally {
            first.cancel();
            release.countDown();
        }
        assertThrows(DownloadException.class, first::await);
        assertEquals(List.of(), d.running());
        assertEquals(Set.of(), visible(models()));
    }

    @Test
    void listFilesGivesPathsSizesAndLfsHashes() throws Exception {
        hub.pageSize(2);
        FakeHub.FakeFile w = hub.lfs("acme/tiny", "sub/dir/model.safetensors", 1234);
        hub.text("acme/tiny", "config.json", "{}");
        hub.text("acme/tiny", "sub/notes.txt", "hello");
        Downloader d = downloader();
        List<RemoteFile> files = d.listFiles(RepoRef.of("acme/tiny"));
        assertEquals(Map.of("config.json", 2L, "sub/dir/model.safetensors", 1234L, "sub/notes.txt", 5L),
                files.stream().collect(java.util.stream.Collectors.toMap(RemoteFile::path, RemoteFile::size)));
        RemoteFile m = files.stream().filter(RemoteFile::isLfs).findFirst().orElseThrow();
        assertEquals(Optional.of(w.sha256()), m.sha256());
        assertEquals(2, files.stream().filter(f -> !f.isLfs()).count());
    }
}
