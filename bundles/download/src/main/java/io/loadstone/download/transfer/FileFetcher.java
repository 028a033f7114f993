package io.loadstone.download.transfer;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.net.http.HttpHeaders;
import java.net.http.HttpResponse.BodyHandler;
import java.net.http.HttpResponse.BodySubscribers;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.loadstone.download.DownloadEvent;
import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.RemoteFile;
import io.loadstone.download.RepoRef;
import io.loadstone.download.hub.HubClient;
import io.loadstone.download.hub.HubErrors;
import io.loadstone.download.hub.Pause;
import io.loadstone.download.hub.RetryPolicy;
import io.loadstone.download.hub.Watchdog;

/**
 * Fetches one file into the staging folder: resumes a partial file with {@code Range}, checks what the server
 * answers (206 with the right {@code Content-Range} → append; 200 → start over; 416 → verify what is there),
 * hashes while writing, retries transient failures with backoff and jitter, and renames the file to its final
 * name only once its SHA-256 (LFS files) or size (small git files) is right.
 *
 * <p>Retries are bounded: a failure counts against {@code retries} unless the attempt moved the file forward by
 * at least {@value #PROGRESS_RESET} bytes, so a flaky connection can still finish a large file but a server
 * that keeps failing ends the download.
 */
final class FileFetcher {

    private static final System.Logger LOG = System.getLogger(FileFetcher.class.getName());
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)");
    private static final Pattern UNSATISFIED_RANGE = Pattern.compile("bytes\\s+\\*/(\\d+)");
    static final long PROGRESS_RESET = 64 * 1024;
    private static final int BUFFER = 1 << 20;

    private final HubClient hub;
    private final RepoRef ref;
    private final Staging staging;
    private final Pause pause;
    private final BooleanSupplier stopping;
    private final Consumer<DownloadEvent> events;
    private final Consumer<URI> onRequest;

    FileFetcher(HubClient hub, RepoRef ref, Staging staging, Pause pause, BooleanSupplier stopping,
            Consumer<DownloadEvent> events, Consumer<URI> onRequest) {
        this.hub = hub;
        this.ref = ref;
        this.staging = staging;
        this.pause = pause;
        this.stopping = stopping;
        this.events = events;
        this.onRequest = onRequest;
    }

    /** What an HTTP answer means for this attempt. */
    private enum Answer {
        STREAM, RESTART, RANGE_MISMATCH, UNSATISFIABLE, ERROR
    }

    /** State of one attempt, filled in by the body handler on the client's thread. */
    private static final class Attempt {
        volatile Answer answer;
        volatile int status;
        volatile HttpHeaders headers;
        volatile long unsatisfiableTotal = -1;
        volatile String errorBody = "";
        final AtomicReference<FileSink> sink = new AtomicReference<>();
    }

    /**
     * Fetches {@code file} to {@code localPath} in the staging folder (skipping it when the manifest already has
     * it verified).
     *
     * @param progress told the bytes on disk whenever that jumps (resume, restart) and each chunk as it arrives
     * @throws CancellationException when the job is stopping
     */
    void fetch(RemoteFile file, String localPath, Map<String, Staging.Verified> manifest, FileProgress progress)
            throws DownloadException, InterruptedException {
        Path done = staging.file(localPath);
        Staging.Verified v = manifest.get(localPath);
        try {
            if (v != null && v.size() == file.size() && v.sha256().equals(file.sha256())
                    && Files.isRegularFile(done, LinkOption.NOFOLLOW_LINKS) && Files.size(done) == file.size()) {
                progress.resumedAt(file.size());
                return;
            }
            Files.deleteIfExists(done); // not in the manifest: may be anything, fetch again
        } catch (IOException e) {
            throw Staging.io("Cannot read " + done, e);
        }
        Path part = staging.part(localPath);
        MessageDigest digest = file.isLfs() ? sha256() : null;
        try (FileChannel ch = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
            long have = ch.size();
            if (digest == null || have > file.size()) {
                ch.truncate(0); // small git files are cheaper to fetch again than to trust
                have = 0;
            }
            if (have > 0) {
                hashPrefix(ch, have, digest);
                LOG.log(Level.DEBUG, "{0}: resuming {1} at {2} of {3} bytes", ref, file.path(), have, file.size());
            }
            progress.resumedAt(have);
            have = transfer(file, ch, have, digest, progress);
            ch.force(true);
        } catch (IOException e) {
            throw Staging.io("Cannot write " + part, e);
        }
        try {
            Files.move(part, done, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw Staging.io("Cannot rename " + part + " to " + done.getFileName(), e);
        }
        staging.addToManifest(new Staging.Verified(localPath, file.size(), file.sha256()));
        events.accept(new DownloadEvent.FileVerified(file.path(), file.size(), file.sha256()));
    }

    /** Runs attempts until the file is complete and verified; returns its size. */
    private long transfer(RemoteFile file, FileChannel ch, long have, MessageDigest digest, FileProgress progress)
            throws DownloadException, InterruptedException, IOException {
        long size = file.size();
        URI url = hub.endpoint().resolveUri(ref, file.path());
        RetryPolicy retry = hub.retryPolicy();
        byte[] buffer = new byte[BUFFER];
        int failures = 0;
        boolean restartedAfterMismatch = false;
        String lastFailure = "";
        while (true) {
            if (have == size) {
                String problem = verify(file, ch, digest);
                if (problem == null) {
                    return have;
                }
                ch.truncate(0);
                if (digest != null) {
                    digest.reset();
                }
                have = 0;
                progress.resumedAt(0);
                if (restartedAfterMismatch) {
                    throw new DownloadException(Reason.INTEGRITY, file.path() + " from " + ref + " failed its check"
                            + " twice: " + problem + ". The Hub sent different bytes than its file list promises;"
                            + " nothing was installed. Try again later.");
                }
                restartedAfterMismatch = true;
                events.accept(new DownloadEvent.Retrying(file.path(), 1, Duration.ZERO, problem
                        + "; fetching the file again from the start"));
                LOG.log(Level.WARNING, "{0}: {1}: {2}; fetching it again", ref, file.path(), problem);
                continue;
            }
            if (stopping.getAsBoolean()) {
                throw new CancellationException();
            }
            if (digest == null && have > 0) {
                // Without a hash, a prefix from a broken attempt is not worth trusting: git files are small.
                ch.truncate(0);
                have = 0;
                progress.resumedAt(0);
            }
            long before = have;
            Attempt a = new Attempt();
            Watchdog watchdog = new Watchdog(stopping, hub.idleTimeout());
            final long from = have;
            final MessageDigest md = digest;
            BodyHandler<Long> handler = info -> {
                a.status = info.statusCode();
                a.headers = info.headers();
                int st = info.statusCode();
                if (st == 206 && from > 0) {
                    Matcher m = CONTENT_RANGE.matcher(info.headers().firstValue("Content-Range").orElse(""));
                    boolean ok = m.matches() && Long.parseLong(m.group(1)) == from
                            && (m.group(3).equals("*") || Long.parseLong(m.group(3)) == size);
                    if (!ok) {
                        a.answer = Answer.RANGE_MISMATCH;
                        return BodySubscribers.replacing(-1L);
                    }
                    a.answer = Answer.STREAM;
                } else if (st == 200 || (st == 206 && from == 0)) {
                    if (from > 0) {
                        a.answer = Answer.RESTART; // the server ignored Range: its body starts at byte 0
                        try {
                            ch.truncate(0);
                        } catch (IOException e) {
                            throw new HubClient.UncheckedIOException(e);
                        }
                        if (md != null) {
                            md.reset();
                        }
                        progress.resumedAt(0);
                    } else {
                        a.answer = Answer.STREAM;
                    }
                } else if (st == 416) {
                    a.answer = Answer.UNSATISFIABLE;
                    Matcher m = UNSATISFIED_RANGE.matcher(info.headers().firstValue("Content-Range").orElse(""));
                    if (m.matches()) {
                        a.unsatisfiableTotal = Long.parseLong(m.group(1));
                    }
                    return BodySubscribers.replacing(-1L);
                } else {
                    a.answer = Answer.ERROR;
                    return BodySubscribers.mapping(BodySubscribers.ofString(StandardCharsets.UTF_8),
                            s -> {
                                a.errorBody = s;
                                return -1L;
                            });
                }
                long start = a.answer == Answer.RESTART ? 0 : from;
                FileSink sink = new FileSink(ch, start, size, md, buffer, progress::add, watchdog);
                a.sink.set(sink);
                return sink;
            };
            Map<String, String> headers = have > 0 ? Map.of("Range", "bytes=" + have + "-") : Map.of();
            String failure = null;
            Optional<Duration> asked = Optional.empty();
            try {
                HubClient.Response<Long> r = hub.get(url, headers, handler, watchdog, onRequest);
                have = settle(a, have);
                switch (a.answer == null ? Answer.ERROR : a.answer) {
                    case STREAM, RESTART -> {
                        if (a.sink.get() != null && a.sink.get().overflowed()) {
                            failure = "the server sent more than the " + size + " bytes the file list gives";
                            ch.truncate(0);
                            if (digest != null) {
                                digest.reset();
                            }
                            have = 0;
                            progress.resumedAt(0);
                        } else if (have < size) {
                            failure = "the connection ended after " + have + " of " + size + " bytes";
                        }
                    }
                    case RANGE_MISMATCH -> {
                        failure = "the server answered the resume request with the wrong range ("
                                + r.headers().firstValue("Content-Range").orElse("none") + "); starting over";
                        ch.truncate(0);
                        if (digest != null) {
                            digest.reset();
                        }
                        have = 0;
                        progress.resumedAt(0);
                    }
                    case UNSATISFIABLE -> {
                        if (a.unsatisfiableTotal == have && have == size) {
                            continue; // all there: verify it
                        }
                        failure = "the server cannot resume at byte " + have + " (HTTP 416, its size "
                                + a.unsatisfiableTotal + "); starting over";
                        ch.truncate(0);
                        if (digest != null) {
                            digest.reset();
                        }
                        have = 0;
                        progress.resumedAt(0);
                    }
                    case ERROR -> {
                        int st = r.status();
                        if (!HubErrors.isTransient(st)) {
                            throw HubErrors.toException(st, r.headers(), a.errorBody, r.uri(), hub.endpoint(), ref,
                                    Optional.of(file.path()));
                        }
                        asked = HubErrors.retryAfter(r.headers(), Instant.now());
                        if (asked.isPresent() && asked.get().compareTo(retry.maxRetryAfter()) > 0) {
                            throw HubErrors.toException(st, r.headers(), a.errorBody, r.uri(), hub.endpoint(), ref,
                                    Optional.of(file.path()));
                        }
                        failure = "HTTP " + st;
                        if (failures + 1 > retry.retries()) {
                            throw HubErrors.toException(st, r.headers(), a.errorBody, r.uri(), hub.endpoint(), ref,
                                    Optional.of(file.path()));
                        }
                    }
                }
            } catch (HubClient.UncheckedIOException e) {
                throw Staging.io("Cannot write " + file.path() + " in " + staging.dir(), e.getCause());
            } catch (CancellationException e) {
                settleQuietly(a);
                throw e;
            } catch (IOException e) {
                have = settleQuietly(a, have);
                failure = HubClient.describe(e);
            } catch (InterruptedException e) {
                settleQuietly(a);
                throw e;
            }
            if (failure == null) {
                continue;
            }
            lastFailure = failure;
            failures = have - before >= PROGRESS_RESET ? 1 : failures + 1;
            if (failures > retry.retries()) {
                throw new DownloadException(Reason.NETWORK, "Could not download " + file.path() + " from " + ref
                        + " after " + failures + " failed attempts in a row: " + lastFailure
                        + ". The " + have + " bytes received are kept; start the download again to resume.");
            }
            int attemptNo = failures;
            Duration wait = asked.orElseGet(() -> retry.backoff(attemptNo));
            events.accept(new DownloadEvent.Retrying(file.path(), failures, wait, failure));
            LOG.log(Level.DEBUG, "{0}: {1}: {2}; retry {3} in {4} ms", ref, file.path(), failure, failures,
                    wait.toMillis());
            if (!pause.pause(wait)) {
                throw new CancellationException();
            }
        }
    }

    /** Closes the attempt's sink and returns the bytes now on disk. */
    private static long settle(Attempt a, long have) throws IOException {
        FileSink sink = a.sink.get();
        if (sink == null) {
            return have;
        }
        try {
            sink.close();
        } catch (IOException e) {
            throw new HubClient.UncheckedIOException(e);
        }
        return sink.position();
    }

    private static long settleQuietly(Attempt a, long have) {
        try {
            return settle(a, have);
        } catch (IOException | HubClient.UncheckedIOException e) {
            return have;
        }
    }

    private static void settleQuietly(Attempt a) {
        settleQuietly(a, 0);
    }

    /** Null when the file is right, else what is wrong. */
    private static String verify(RemoteFile file, FileChannel ch, MessageDigest digest) throws IOException {
        if (ch.size() != file.size()) {
            return "size is " + ch.size() + " bytes, the file list says " + file.size();
        }
        if (digest == null) {
            return null;
        }
        String got = HexFormat.of().formatHex(digest.digest());
        String expected = file.sha256().orElseThrow();
        return got.equals(expected) ? null : "SHA-256 mismatch (expected " + expected + ", got " + got + ")";
    }

    private static void hashPrefix(FileChannel ch, long length, MessageDigest digest) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(BUFFER);
        long pos = 0;
        while (pos < length) {
            b.clear();
            if (length - pos < b.capacity()) {
                b.limit((int) (length - pos));
            }
            int n = ch.read(b, pos);
            if (n < 0) {
                throw new IOException("partial file shrank while reading it");
            }
            b.flip();
            digest.update(b);
            pos += n;
        }
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }
}
