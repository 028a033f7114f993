package io.loadstone.download.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.loadstone.download.DownloadEvent;
import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.DownloadJob;
import io.loadstone.download.DownloadPlan;
import io.loadstone.download.FakeHub;
import io.loadstone.download.TestSettings;

/**
 * The fake Hub misbehaves; every case must end with a verified complete model or a clear error, and never with
 * a partial model visible in the models folder.
 */
class HubFaultsTest {

    @TempDir
    Path root;

    FakeHub hub;
    Downloader downloader;
    final List<DownloadEvent> events = new CopyOnWriteArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        hub = new FakeHub().chunk(8192);
    }

    @AfterEach
    void tearDown() {
        if (downloader != null) {
            downloader.close();
        }
        hub.close();
    }

    Downloader downloader(Settings s, Map<String, String> env) {
        downloader = new Downloader(s, TestSettings.env(env), ConcurrentHashMap.newKeySet(), p -> {
        }, null);
        return downloader;
    }

    Downloader downloader() {
        return downloader(TestSettings.of(hub.base(), root), Map.of());
    }

    Path models() {
        return root.resolve("models");
    }

    Path download(Downloader d, String input) throws DownloadException, InterruptedException {
        DownloadPlan plan = d.plan(d.parse(input), Optional.empty());
        return d.start(plan, events::add).await();
    }

    DownloadException failure(Downloader d, String input) {
        return assertThrows(DownloadException.class, () -> download(d, input));
    }

    /** Nothing but the hidden staging folder in the models folder. */
    void assertNoModelVisible() throws IOException {
        if (Files.isDirectory(models())) {
            try (Stream<Path> s = Files.list(models())) {
                assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith("."))
                        .toList());
            }
        }
    }

    List<DownloadEvent.Retrying> retries() {
        return events.stream().filter(e -> e instanceof DownloadEvent.Retrying).map(e -> (DownloadEvent.Retrying) e)
                .toList();
    }

    FakeHub.FakeFile model(int size) {
        hub.text("acme/tiny", "config.json", "{}");
        return hub.lfs("acme/tiny", "model.safetensors", size);
    }

    @Test
    void droppedConnectionResumesWithRange() throws Exception {
        FakeHub.FakeFile w = model(1_000_000);
        hub.fault("model.safetensors", new FakeHub.DropAfter(300_000));
        Path target = download(downloader(), "acme/tiny");
        assertArrayEquals(w.content(), Files.readAllBytes(target.resolve("model.safetensors")));
        List<FakeHub.Request> gets = hub.requests("/cdn-lfs/");
        assertEquals(2, gets.size(), gets.toString());
        assertNull(gets.get(0).range());
        long from = Long.parseLong(gets.get(1).range().replaceAll("bytes=(\\d+)-", "$1"));
        assertTrue(from > 0 && from <= 300_000, "resumed at " + from);
        assertEquals(1, retries().size());
    }

    @Test
    void serverIgnoringRangeMakesTheFileStartOverNotGrowTwice() throws Exception {
        FakeHub.FakeFile w = model(500_000);
        hub.fault("model.safetensors", new FakeHub.DropAfter(200_000), new FakeHub.IgnoreRange());
        Path target = download(downloader(), "acme/tiny");
        assertArrayEquals(w.content(), Files.readAllBytes(target.resolve("model.safetensors")));
        List<FakeHub.Request> gets = hub.requests("/cdn-lfs/");
        assertEquals(2, gets.size());
        assertTrue(gets.get(1).range() != null, "asked for a range, got 200");
    }

    @Test
    void wrongContentRangeMakesTheFileStartOver() throws Exception {
        FakeHub.FakeFile w = model(500_000);
        hub.fault("model.safetensors", new FakeHub.DropAfter(200_000), new FakeHub.WrongRange());
        Path target = download(downloader(), "acme/tiny");
        assertArrayEquals(w.content(), Files.readAllBytes(target.resolve("model.safetensors")));
        List<FakeHub.Request> gets = hub.requests("/cdn-lfs/");
        assertEquals(3, gets.size(), gets.toString());
        assertNull(gets.get(2).range(), "after a wrong range, the file is fetched from the start");
    }

    @Test
    void completePartialFileGets416AndIsVerified() throws Exception {
        // A partial file as long as the real one, left by a run that died before renaming it.
        FakeHub.FakeFile w = model(100_000);
        Path part = models().resolve(".downloading/acme_tiny/model.safetensors.part");
        Files.createDirectories(part.getParent());
        Files.write(part, w.content());
        Path target = download(downloader(), "acme/tiny");
        assertArrayEquals(w.content(), Files.readAllBytes(target.resolve("model.safetensors")));
        assertTrue(hub.requests("/cdn-lfs/").isEmpty(), "a complete partial file is verified, not fetched");
    }

    @Test
    void wrongByteOnceIsCaughtBySha256AndFetchedAgain() throws Exception {
        FakeHub.FakeFile w = model(300_000);
        hub.fault("model.safetensors", new FakeHub.CorruptByte(123_456));
        Path target = download(downloader(), "acme/tiny");
        assertArrayEquals(w.content(), Files.readAllBytes(target.resolve("model.safetensors")));
        assertEquals(2, hub.requests("/cdn-lfs/").size());
        assertTrue(retries().stream().anyMatch(r -> r.reason().contains("SHA-256 mismatch")), retries().toString());
    }

    @Test
    void wrongByteEveryTimeEndsWithAnIntegrityErrorAndNoModel() throws Exception {
        model(300_000);
        hub.always("model.safetensors", new FakeHub.CorruptByte(7));
        DownloadException e = failure(downloader(), "acme/tiny");
        assertEquals(Reason.INTEGRITY, e.reason());
        assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("SHA-256 mismatch"),
                e.getMessage());
        assertNoModelVisible();
    }

    @Test
    void hubLyingAboutSha256EndsWithAnIntegrityErrorAndNoModel() throws Exception {
        FakeHub.FakeFile w = model(200_000);
        w.claimedSha256 = FakeHub.sha256(new byte[] {1, 2, 3});
        DownloadException e = failure(downloader(), "acme/tiny");
        assertEquals(Reason.INTEGRITY, e.reason());
        assertTrue(e.getMessage().contains(w.claimedSha256) && e.getMessage().contains(w.sha256()), e.getMessage());
        assertNoModelVisible();
    }

    @Test
    void smallGitFileCutShortIsFetchedAgainFromTheStart() throws Exception {
        hub.lfs("acme/tiny", "model.safetensors", 10_000);
        hub.text("acme/tiny", "tokenizer.json", "x".repeat(50_000));
        hub.fault("tokenizer.json", new FakeHub.DropAfter(20_000));
        Path target = download(downloader(), "acme/tiny");
        assertEquals("x".repeat(50_000), Files.readString(target.resolve("tokenizer.json")));
        List<FakeHub.Request> gets = hub.requests("tokenizer.json");
        assertEquals(2, gets.size());
        assertNull(gets.get(1).range(), "git files are not resumed: they are small and have no hash to check");
    }

    @ParameterizedTest
    @ValueSource(strings = {"../evil.json", "/etc/evil.json", "sub\\..\\..\\evil.json", "C:evil.json",
            "sub/../../evil.json", "./config.json", "a//b.json", "nul\u0000.json"})
    void unsafeFileNamesInTheListingStopEverything(String name) throws Exception {
        hub.lfs("acme/tiny", "model.safetensors", 10_000);
        hub.text("acme/tiny", name, "{\"pwned\":true}");
        DownloadException e = failure(downloader(), "acme/tiny");
        assertEquals(Reason.UNSAFE_PATH, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains("unsafe file name"), e.getMessage());
        assertTrue(hub.requests("/resolve/").isEmpty(), "nothing is fetched from such a repo");
        try (Stream<Path> s = Files.walk(root)) {
            assertEquals(List.of(), s.filter(Files::isRegularFile).toList());
        }
        assertFalse(Files.exists(root.getParent().resolve("evil.json")));
    }

    @Test
    void gatedRepoSaysToSetHfTokenAndAcceptTheLicence() throws Exception {
        model(1000);
        hub.requireToken("hf_right");
        DownloadException e = failure(downloader(), "acme/tiny");
        assertEquals(Reason.UNAUTHORIZED, e.reason());
        assertTrue(e.getMessage().contains("set HF_TOKEN and accept the licence on " + hub.base() + "/acme/tiny"),
                e.getMessage());
        DownloadException wrong = failure(downloader(TestSettings.of(hub.base(), root),
                Map.of("HF_TOKEN", "hf_wrong")), "acme/tiny");
        assertEquals(Reason.UNAUTHORIZED, wrong.reason());
        assertTrue(wrong.getMessage().contains("the token in HF_TOKEN was refused"), wrong.getMessage());
        assertFalse(wrong.getMessage().contains("hf_wrong"), "the token itself never appears");
        assertNoModelVisible();
    }

    @Test
    void tokenGoesToTheHubButNotToARedirectTargetOnAnotherHost() throws Exception {
        try (FakeHub cdn = new FakeHub()) {
            FakeHub.FakeFile w = model(50_000);
            hub.requireToken("hf_secret_123").lfsOn(cdn);
            Path target = download(downloader(TestSettings.of(hub.base(), root), Map.of("HF_TOKEN", "hf_secret_123")),
                    "acme/tiny");
            assertArrayEquals(w.content(), Files.readAllBytes(target.resolve("model.safetensors")));
            assertFalse(hub.requests().isEmpty());
            assertTrue(hub.requests().stream().allMatch(r -> "Bearer hf_secret_123".equals(r.authorization())));
            assertEquals(1, cdn.requests().size());
            assertNull(cdn.requests().get(0).authorization(), "no token for a foreign redirect target");
        }
    }

    @Test
    void gatedFileDuringDownloadStopsWithTheTokenMessage() throws Exception {
        model(50_000);
        hub.fault("model.safetensors", new FakeHub.Status(403, Map.of("X-Error-Code", "GatedRepo")));
        DownloadException e = failure(downloader(), "acme/tiny");
        assertEquals(Reason.UNAUTHORIZED, e.reason());
        assertTrue(e.getMessage().contains("HF_TOKEN") && e.getMessage().contains("licence"), e.getMessage());
        assertNoModelVisible();
    }

    @Test
    void notFoundNamesTheRepoTheBranchOrTheFile() throws Exception {
        model(1000);
        Downloader d = downloader();
        DownloadException repo = failure(d, "acme/nothing-here");
        assertEquals(Reason.NOT_FOUND, repo.reason());
        assertTrue(repo.getMessage().contains("Repository acme/nothing-here not found"), repo.getMessage());
        DownloadException branch = failure(d, "acme/tiny:no-such-branch");
        assertEquals(Reason.NOT_FOUND, branch.reason());
        assertTrue(branch.getMessage().contains("Branch 'no-such-branch' not found in acme/tiny"), branch.getMessage());
        hub.fault("config.json", new FakeHub.Status(404, Map.of("X-Error-Code", "EntryNotFound")));
        DownloadException file = failure(d, "acme/tiny");
        assertEquals(Reason.NOT_FOUND, file.reason());
        assertTrue(file.getMessage().contains("File 'config.json' in acme/tiny not found at branch 'main'"),
                file.getMessage());
        DownloadException chosen = assertThrows(DownloadException.class,
                () -> d.plan(d.parse("acme/tiny"), Optional.of("model.gguf")));
        assertEquals(Reason.NOT_FOUND, chosen.reason());
        assertTrue(chosen.getMessage().contains("File 'model.gguf' not found in acme/tiny"), chosen.getMessage());
        assertNoModelVisible();
    }

    @Test
    void rateLimitHonoursRetryAfter() throws Exception {
        FakeHub.FakeFile w = model(20_000);
        hub.fault("model.safetensors", new FakeHub.Status(429, Map.of("Retry-After", "1")));
        hub.treeFault(new FakeHub.Status(429, Map.of("Retry-After", "0")));
        Path target = download(downloader(), "acme/tiny");
        assertArrayEquals(w.content(), Files.readAllBytes(target.resolve("model.safetensors")));
        assertEquals(2, hub.requests("/resolve/main/model.safetensors").size());
        assertTrue(retries().stream().anyMatch(r -> r.reason().equals("HTTP 429") && r.delay().equals(Duration.ofSeconds(1))),
                retries().toString());
    }

    @Test
    void rateLimitLongerThanWeWaitEndsWithAMessage() throws Exception {
        model(20_000);
        hub.fault("model.safetensors", new FakeHub.Status(429, Map.of("Retry-After", "3600")));
        DownloadException e = failure(downloader(), "acme/tiny");
        assertEquals(Reason.RATE_LIMITED, e.reason());
        assertTrue(e.getMessage().contains("asked to wait 3600 s") && e.getMessage().contains("resumes"),
                e.getMessage());
        assertEquals(1, hub.requests("/resolve/main/model.safetensors").size());
        assertNoModelVisible();
    }

    @Test
    void serverErrorsThenOkRecover() throws Exception {
        FakeHub.FakeFile w = model(20_000);
        hub.treeFault(new FakeHub.Status(503, Map.of()));
        hub.fault("model.safetensors", new FakeHub.Status(503, Map.of()), new FakeHub.Status(502, Map.of()));
        Path target = download(downloader(), "acme/tiny");
        assertArrayEquals(w.content(), Files.readAllBytes(target.resolve("model.safetensors")));
        assertEquals(3, hub.requests("/resolve/main/model.safetensors").size());
    }

    @Test
    void serverErrorsThatDoNotStopEndAfterBoundedRetries() throws Exception {
        model(20_000);
        hub.always("model.safetensors", new FakeHub.Status(503, Map.of()));
        DownloadException e = failure(downloader(), "acme/tiny");
        assertEquals(Reason.NETWORK, e.reason());
        assertTrue(e.getMessage().contains("HTTP 503") && e.getMessage().contains("model.safetensors"),
                e.getMessage());
        assertEquals(4, hub.requests("/resolve/main/model.safetensors").size(), "1 attempt + 3 retries");
        assertNoModelVisible();
    }

    @Test
    void silentServerTimesOutAndTheFileResumes() throws Exception {
        FakeHub.FakeFile w = model(400_000);
        CountDownLatch never = new CountDownLatch(1);
        hub.fault("model.safetensors", new FakeHub.Stall(150_000, never));
        Settings s = TestSettings.of(hub.base(), root).withTimeouts(Duration.ofSeconds(5), Duration.ofMillis(700));
        try {
            Path target = download(downloader(s, Map.of()), "acme/tiny");
            assertArrayEquals(w.content(), Files.readAllBytes(target.resolve("model.safetensors")));
            assertTrue(retries().stream().anyMatch(r -> r.reason().contains("timed out")), retries().toString());
            assertTrue(hub.requests("/cdn-lfs/").get(1).range() != null);
        } finally {
            never.countDown();
        }
    }

    @Test
    void tooLittleDiskSpaceRefusesToStartAndGivesBothNumbers() throws Exception {
        model(20_000);
        Downloader d = downloader(TestSettings.of(hub.base(), root).withFreeSpaceMargin(Long.MAX_VALUE / 4), Map.of());
        DownloadPlan plan = d.plan(d.parse("acme/tiny"), Optional.empty());
        DownloadException e = assertThrows(DownloadException.class, () -> d.start(plan, null));
        assertEquals(Reason.DISK_SPACE, e.reason());
        long free = Files.getFileStore(root).getUsableSpace();
        assertTrue(e.getMessage().contains("(" + plan.totalBytes() + " bytes)"), e.getMessage());
        String freeText = e.getMessage().replaceAll(".*only .* \\((\\d+) bytes\\) are free.*", "$1");
        assertTrue(Math.abs(Long.parseLong(freeText) - free) < 1L << 30, e.getMessage());
        assertTrue(hub.requests("/resolve/").isEmpty());
        assertNoModelVisible();
        // the lock was released: a start with a sane margin works
        Path target = downloader(TestSettings.of(hub.base(), root), Map.of()).start(
                downloader.plan(downloader.parse("acme/tiny"), Optional.empty()), null).await();
        assertEquals(Set.of("config.json", "model.safetensors", "huggingface-metadata.txt"),
                Set.copyOf(Files.list(target).map(p -> p.getFileName().toString()).toList()));
    }

    @Test
    void oneFailingFileStopsTheOthersAndKeepsTheirPartsForLater() throws Exception {
        FakeHub.FakeFile big = hub.lfs("acme/tiny", "model-00001-of-00002.safetensors", 2_000_000);
        hub.lfs("acme/tiny", "model-00002-of-00002.safetensors", 10_000);
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch bigStarted = new CountDownLatch(1);
        hub.fault("model-00001-of-00002.safetensors", new FakeHub.Stall(500_000, release));
        // The small file fails only once the big one is half-way, so there is a partial file to keep.
        hub.fault("model-00002-of-00002.safetensors", new FakeHub.Hold(bigStarted,
                new FakeHub.Status(404, Map.of("X-Error-Code", "EntryNotFound"))));
        Downloader d = downloader();
        DownloadPlan plan = d.plan(d.parse("acme/tiny"), Optional.empty());
        try {
            DownloadJob job = d.start(plan, e -> {
                if (e instanceof DownloadEvent.Progress p && p.total().bytes() >= 500_000) {
                    bigStarted.countDown();
                }
            });
            DownloadException e = assertThrows(DownloadException.class, job::await);
            assertEquals(Reason.NOT_FOUND, e.reason());
            assertTrue(e.getMessage().contains("model-00002-of-00002.safetensors"), e.getMessage());
        } finally {
            release.countDown();
        }
        assertNoModelVisible();
        Path part = models().resolve(".downloading/acme_tiny/model-00001-of-00002.safetensors.part");
        assertEquals(500_000, Files.size(part), "what arrived of the other file is kept");
        byte[] head = java.util.Arrays.copyOf(big.content(), 500_000);
        assertArrayEquals(head, Files.readAllBytes(part));
    }
}
