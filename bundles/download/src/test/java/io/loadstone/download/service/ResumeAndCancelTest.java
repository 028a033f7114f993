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
import java.text.MessageFormat;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
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
import io.loadstone.download.FakeHub;
import io.loadstone.download.TestSettings;

/** Cancel keeps partial files and shows no model; a new process resumes from them. */
class ResumeAndCancelTest {

    @TempDir
    Path root;

    FakeHub hub;
    final CountDownLatch release = new CountDownLatch(1);

    @BeforeEach
    void setUp() throws IOException {
        hub = new FakeHub().chunk(8192);
    }

    @AfterEach
    void tearDown() {
        release.countDown();
        hub.close();
    }

    /** A new downloader: its own HTTP client, as after a process restart. */
    Downloader process() {
        return new Downloader(TestSettings.of(hub.base(), root), TestSettings.noEnv(), ConcurrentHashMap.newKeySet(),
                p -> {
                }, null);
    }

    Path models() {
        return root.resolve("models");
    }

    Path staging() {
        return models().resolve(".downloading/acme_tiny");
    }

    List<String> visibleModels() throws IOException {
        try (Stream<Path> s = Files.list(models())) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).toList();
        }
    }

    /** Waits (bounded) until the job has at least {@code bytes} on disk. */
    static void awaitBytes(DownloadJob job, long bytes) throws InterruptedException {
        awaitBytes(job, bytes, 0);
    }

    /** Waits (bounded) until the job has at least {@code bytes} on disk and {@code files} files verified. */
    static void awaitBytes(DownloadJob job, long bytes, int files) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (job.progress().total().bytes() < bytes || job.progress().filesDone() < files) {
            if (System.nanoTime() > deadline || job.isDone()) {
                throw new AssertionError("the job never reached " + bytes + " bytes: " + job.progress() + " "
                        + job.outcome());
            }
            Thread.sleep(20);
        }
    }

    @Test
    void cancelKeepsPartialFilesAndShowsNoModel() throws Exception {
        hub.text("acme/tiny", "config.json", "{}");
        FakeHub.FakeFile w = hub.lfs("acme/tiny", "model.safetensors", 1_000_000);
        hub.fault("model.safetensors", new FakeHub.Stall(400_000, release));
        Downloader d = process();
        try {
            List<DownloadEvent> events = new CopyOnWriteArrayList<>();
            DownloadJob job = d.start(d.plan(d.parse("acme/tiny"), Optional.empty()), events::add);
            awaitBytes(job, 400_000);
            job.cancel();
            DownloadException e = assertThrows(DownloadException.class, job::await);
            assertEquals(Reason.CANCELLED, e.reason());
            assertTrue(e.getMessage().contains("resumes"), e.getMessage());
            assertTrue(job.outcome().orElseThrow() instanceof DownloadEvent.Cancelled);
            assertTrue(events.get(events.size() - 1) instanceof DownloadEvent.Cancelled, "outcome is the last event");
            assertEquals(List.of(), visibleModels());
            Path part = staging().resolve("model.safetensors.part");
            assertEquals(400_000, Files.size(part), "everything received is on disk");
            byte[] head = new byte[400_000];
            System.arraycopy(w.content(), 0, head, 0, head.length);
            assertArrayEquals(head, Files.readAllBytes(part));
            assertEquals(List.of(), d.running());
        } finally {
            d.close();
        }
    }

    @Test
    void anotherProcessResumesWhereTheFirstStopped() throws Exception {
        FakeHub.FakeFile small = hub.lfs("acme/tiny", "model-00002-of-00002.safetensors", 30_000);
        FakeHub.FakeFile big = hub.lfs("acme/tiny", "model-00001-of-00002.safetensors", 1_500_000);
        hub.text("acme/tiny", "config.json", "{}");
        hub.fault("model-00001-of-00002.safetensors", new FakeHub.Stall(600_000, release));

        Downloader first = process();
        DownloadPlan plan = first.plan(first.parse("acme/tiny"), Optional.empty());
        DownloadJob job = first.start(plan, null);
        awaitBytes(job, 600_000 + 30_000 + 2, 2);
        job.cancel();
        assertThrows(DownloadException.class, job::await);
        first.close(); // the first process is gone
        release.countDown();
        assertEquals(List.of(), visibleModels());
        int smallFetches = hub.requests("/resolve/main/model-00002-of-00002.safetensors").size();
        assertEquals(1, smallFetches);

        Downloader second = process();
        try {
            List<DownloadEvent> events = new CopyOnWriteArrayList<>();
            DownloadJob resumed = second.start(second.plan(second.parse("acme/tiny"), Optional.empty()), events::add);
            Path target = resumed.await();
            assertArrayEquals(big.content(), Files.readAllBytes(target.resolve("model-00001-of-00002.safetensors")));
            assertArrayEquals(small.content(), Files.readAllBytes(target.resolve("model-00002-of-00002.safetensors")));
            List<FakeHub.Request> bigGets = hub.requests("/resolve/main/model-00001-of-00002.safetensors");
            assertEquals(2, bigGets.size());
            assertEquals("bytes=600000-", bigGets.get(1).range(), "the second process asks only for the rest");
            assertEquals(smallFetches, hub.requests("/resolve/main/model-00002-of-00002.safetensors").size(),
                    "a file verified by the first process is not fetched again");
            DownloadEvent.Completed c = (DownloadEvent.Completed) resumed.outcome().orElseThrow();
            assertEquals(big.content().length - 600_000, c.bytesFetched(), "only the rest went over the wire");
            assertFalse(Files.exists(staging()));
            assertEquals(List.of("acme_tiny"), visibleModels());
        } finally {
            second.close();
        }
    }

    @Test
    void corruptPartialFileFromAnEarlierRunIsDetectedAndReplaced() throws Exception {
        FakeHub.FakeFile w = hub.lfs("acme/tiny", "model.safetensors", 300_000);
        Files.createDirectories(staging());
        byte[] bad = new byte[100_000];
        System.arraycopy(w.content(), 0, bad, 0, bad.length);
        bad[5_000] ^= 1; // the disk (or an old server) got one byte wrong
        Files.write(staging().resolve("model.safetensors.part"), bad);
        Downloader d = process();
        try {
            Path target = d.start(d.plan(d.parse("acme/tiny"), Optional.empty()), null).await();
            assertArrayEquals(w.content(), Files.readAllBytes(target.resolve("model.safetensors")));
            List<FakeHub.Request> gets = hub.requests("/cdn-lfs/");
            assertEquals("bytes=100000-", gets.get(0).range());
            assertNull(gets.get(1).range(), "after the hash mismatch the whole file is fetched again");
        } finally {
            d.close();
        }
    }

    @Test
    void leftoversOfAnotherPlanDoNotEndUpInTheModel() throws Exception {
        hub.text("acme/tiny", "config.json", "{}");
        hub.lfs("acme/tiny", "model.safetensors", 10_000);
        Files.createDirectories(staging().resolve("old"));
        Files.writeString(staging().resolve("old/pytorch_model.bin"), "stale");
        Files.writeString(staging().resolve("stale.part"), "stale");
        Downloader d = process();
        try {
            Path target = d.start(d.plan(d.parse("acme/tiny"), Optional.empty()), null).await();
            try (Stream<Path> s = Files.walk(target)) {
                assertEquals(List.of("config.json", "huggingface-metadata.txt", "model.safetensors"),
                        s.filter(Files::isRegularFile).map(p -> target.relativize(p).toString()).sorted().toList());
            }
        } finally {
            d.close();
        }
    }

    @Test
    void partialFileLongerThanTheRealOneStartsOver() throws Exception {
        FakeHub.FakeFile w = hub.lfs("acme/tiny", "model.safetensors", 50_000);
        Files.createDirectories(staging());
        Files.write(staging().resolve("model.safetensors.part"), new byte[70_000]);
        Downloader d = process();
        try {
            Path target = d.start(d.plan(d.parse("acme/tiny"), Optional.empty()), null).await();
            assertArrayEquals(w.content(), Files.readAllBytes(target.resolve("model.safetensors")));
            assertNull(hub.requests("/cdn-lfs/").get(0).range());
        } finally {
            d.close();
        }
    }

    @Test
    void tokenNeverReachesTheLogs() throws Exception {
        String token = "hf_do_not_log_me_42";
        hub.requireToken(token);
        hub.text("acme/tiny", "config.json", "{}");
        hub.lfs("acme/tiny", "model.safetensors", 200_000);
        hub.fault("model.safetensors", new FakeHub.DropAfter(50_000), new FakeHub.Status(503, Map.of()));
        List<String> logged = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                String msg = r.getParameters() == null ? r.getMessage()
                        : MessageFormat.format(r.getMessage(), r.getParameters());
                logged.add(msg + (r.getThrown() == null ? "" : " " + r.getThrown()));
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger logger = Logger.getLogger("io.loadstone.download");
        Level before = logger.getLevel();
        logger.setLevel(Level.ALL);
        logger.addHandler(capture);
        Downloader d = new Downloader(TestSettings.of(hub.base(), root), TestSettings.env(Map.of("HF_TOKEN", token)),
                ConcurrentHashMap.newKeySet(), p -> {
                }, null);
        try {
            d.start(d.plan(d.parse("acme/tiny"), Optional.empty()), null).await();
            assertThrows(DownloadException.class, () -> d.plan(d.parse("acme/missing"), Optional.empty()));
        } finally {
            logger.removeHandler(capture);
            logger.setLevel(before);
            d.close();
        }
        assertTrue(logged.size() >= 5, "debug logging was on: " + logged);
        assertTrue(logged.stream().anyMatch(l -> l.contains("redirects to")), logged.toString());
        assertTrue(logged.stream().noneMatch(l -> l.contains(token)), logged.toString());
        assertFalse(d.settings().toString().contains(token));
        assertTrue(d.settings().token().isPresent());
    }
}
