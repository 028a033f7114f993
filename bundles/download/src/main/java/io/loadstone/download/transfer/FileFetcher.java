package io.loadstone.download.transfer;

import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
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
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.loadstone.download.DownloadEvent;
import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.RemoteFile;
import io.loadstone.download.RepoRef;
import io.loadstone.download.hub.Cancellation;
import io.loadstone.download.hub.HubClient;
import io.loadstone.download.hub.HubErrors;
import io.loadstone.download.hub.Pause;
import io.loadstone.download.hub.RetryPolicy;

/**
 * Fetches one file into the staging folder: resumes a partial file with {@code Range}, checks what the server
 * answers (206 with the right {@code Content-Range} → append; 200 → start over; 416 → verify what is there),
 * hashes while writing (on a {@link DiskWriter} thread), retries transient failures with backoff and jitter, and
 * renames the file to its final name only once its SHA-256 (LFS files) or size (small git files) is right.
 *
 * <p>Retries are bounded: a failure counts against {@code retries} unless the attempt moved the file forward by
 * at least {@value #PROGRESS_RESET} bytes, so a flaky connection can still finish a large file but a server that
 * keeps failing ends the download.
 */
final class FileFetcher {

    private static final System.Logger LOG = System.getLogger(FileFetcher.class.getName());
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)");
    private static final Pattern UNSATISFIED_RANGE = Pattern.compile("bytes\\s+\\*/(\\d+)");
    static final long PROGRESS_RESET = 64 * 1024;

    private final HubClient hub;
    private final RepoRef ref;
    private final Staging staging;
    private final Pause pause;
    private final Cancellation cancellation;
    private final Consumer<DownloadEvent> events;
    private final Consumer<URI> onRequest;

    FileFetcher(HubClient hub, RepoRef ref, Staging staging, Pause pause, Cancellation cancellation,
            Consumer<DownloadEvent> events, Consumer<URI> onRequest) {
        this.hub = hub;
        this.ref = ref;
        this.staging = staging;
        this.pause = pause;
        this.cancellation = cancellation;
        this.events = events;
        this.onRequest = onRequest;
    }

    /** A file on its way: the partial file, its digest so far, and how many bytes it holds. */
    private static final class Part {
        final RemoteFile file;
        final FileChannel channel;
        final MessageDigest digest;
        final DiskWriter writer;
        final FileProgress progress;
        long have;

        Part(RemoteFile file, FileChannel channel, MessageDigest digest, DiskWriter writer, FileProgress progress,
                long have) {
            this.file = file;
            this.channel = channel;
            this.digest = digest;
            this.writer = writer;
            this.progress = progress;
            this.have = have;
        }

        /** Drops what is there and starts from byte 0. */
        void restart() throws IOException {
            channel.truncate(0);
            if (digest != null) {
                digest.reset();
            }
            have = 0;
            progress.resumedAt(0);
        }
    }

    /**
     * Fetches {@code file} to {@code localPath} in the staging folder (skipping it when the manifest already has
     * it verified).
     *
     * @param progress told the bytes on disk whenever that jumps (resume, restart) and each block as it arrives
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
        Path partPath = staging.part(localPath);
        MessageDigest digest = file.isLfs() ? sha256() : null;
        try (FileChannel ch = FileChannel.open(partPath, StandardOpenOption.CREATE, StandardOpenOption.READ,
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
            try (DiskWriter writer = new DiskWriter(ch, digest)) {
                transfer(new Part(file, ch, digest, writer, progress, have));
            }
            ch.force(true); // durable before the rename: a visible model must survive a power cut
        } catch (IOException e) {
            cancellation.check(); // an interrupt from a cancel closes the channel: not a disk error
            throw Staging.io("Cannot write " + partPath, e);
        }
        try {
            Files.move(partPath, done, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw Staging.io("Cannot rename " + partPath + " to " + done.getFileName(), e);
        }
        staging.addToManifest(new Staging.Verified(localPath, file.size(), file.sha256()));
        events.accept(new DownloadEvent.FileVerified(file.path(), file.size(), file.sha256()));
    }

    /** A local disk error while receiving: not worth a retry. */
    private static final class LocalWriteException extends Exception {
        private static final long serialVersionUID = 1L;

        LocalWriteException(IOException cause) {
            super(cause);
        }

        @Override
        public synchronized IOException getCause() {
            return (IOException) super.getCause();
        }
    }

    /** Runs attempts until the file is complete and verified. */
    private void transfer(Part p) throws DownloadException, InterruptedException, IOException {
        RemoteFile file = p.file;
        long size = file.size();
        URI url = hub.endpoint().resolveUri(ref, file.path());
        RetryPolicy retry = hub.retryPolicy();
        int failures = 0;
        boolean restartedAfterMismatch = false;
        while (true) {
            if (p.have == size) {
                String problem = verify(file, p.channel, p.digest);
                if (problem == null) {
                    return;
                }
                p.restart();
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
            cancellation.check();
            if (p.digest == null && p.have > 0) {
                // Without a hash, a prefix from a broken attempt is not worth trusting: git files are small.
                p.restart();
            }
            long before = p.have;
            String failure = null;
            Optional<Duration> asked = Optional.empty();
            Map<String, String> headers = p.have > 0 ? Map.of("Range", "bytes=" + p.have + "-") : Map.of();
            try (HubClient.Response r = hub.open(url, headers, onRequest, cancellation)) {
                int st = r.status();
                if (st == 206 && p.have > 0) {
                    Matcher m = CONTENT_RANGE.matcher(r.headers().first("Content-Range").orElse(""));
                    if (m.matches() && Long.parseLong(m.group(1)) == p.have
                            && (m.group(3).equals("*") || Long.parseLong(m.group(3)) == size)) {
                        failure = receive(r, p);
                    } else {
                        failure = "the server answered the resume request with the wrong range ("
                                + r.headers().first("Content-Range").orElse("none") + "); starting over";
                        r.abort();
                        p.restart();
                    }
                } else if (st == 200 || st == 206) {
                    if (p.have > 0) {
                        p.restart(); // the server ignored Range: its body starts at byte 0
                    }
                    failure = receive(r, p);
                } else if (st == 416) {
                    Matcher m = UNSATISFIED_RANGE.matcher(r.headers().first("Content-Range").orElse(""));
                    long total = m.matches() ? Long.parseLong(m.group(1)) : -1;
                    if (total == p.have && p.have == size) {
                        continue; // all there: verify it
                    }
                    failure = "the server cannot resume at byte " + p.have + " (HTTP 416, its size " + total
                            + "); starting over";
                    p.restart();
                } else {
                    String body = r.errorText();
                    if (!HubErrors.isTransient(st)) {
                        throw HubErrors.toException(st, r.headers(), body, r.uri(), hub.endpoint(), ref,
                                Optional.of(file.path()));
                    }
                    asked = HubErrors.retryAfter(r.headers(), Instant.now());
                    if (asked.isPresent() && asked.get().compareTo(retry.maxRetryAfter()) > 0
                            || failures + 1 > retry.retries()) {
                        throw HubErrors.toException(st, r.headers(), body, r.uri(), hub.endpoint(), ref,
                                Optional.of(file.path()));
                    }
                    failure = "HTTP " + st;
                }
            } catch (LocalWriteException e) {
                cancellation.check();
                throw Staging.io("Cannot write " + file.path() + " in " + staging.dir(), e.getCause());
            } catch (java.net.UnknownHostException e) {
                cancellation.check();
                throw HubErrors.unresolved(url, e);
            } catch (IOException e) {
                cancellation.check(); // a cancel shows up as a closed socket
                failure = HubClient.describe(e);
            }
            if (failure == null) {
                continue;
            }
            failures = p.have - before >= PROGRESS_RESET ? 1 : failures + 1;
            if (failures > retry.retries()) {
                throw new DownloadException(Reason.NETWORK, "Could not download " + file.path() + " from " + ref
                        + " after " + failures + " failed attempts in a row: " + failure + ". The " + p.have
                        + " bytes received are kept; start the download again to resume.");
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

    /**
     * Reads the body into the writer's blocks (no copy in between) until it ends, at most up to the file's size.
     * Whatever arrived is handed to the writer and on disk when this returns, also after a network error, so
     * {@code p.have} is exact.
     *
     * @return null when the body ended normally with the file complete, else what went wrong
     * @throws IOException network errors (the bytes before them are kept)
     */
    private String receive(HubClient.Response r, Part p) throws IOException, LocalWriteException {
        long size = p.file.size();
        byte[] block = null;
        int filled = 0;
        boolean overflow = false;
        boolean ended = false;
        IOException network = null;
        try (InputStream in = r.body()) {
            while (true) {
                if (block == null) {
                    block = acquire(p.writer);
                    filled = 0;
                }
                int n = in.read(block, filled, block.length - filled);
                if (n < 0) {
                    ended = true;
                    break;
                }
                long room = size - p.have - filled;
                if (n > room) {
                    n = (int) room;
                    overflow = true;
                }
                filled += n;
                p.progress.add(n);
                if (filled == block.length || overflow) {
                    submit(p, block, filled);
                    block = null;
                }
                if (overflow) {
                    r.abort();
                    break;
                }
                cancellation.check();
            }
        } catch (IOException e) {
            network = e;
        } finally {
            if (!ended) {
                r.abort(); // never drain or keep alive a connection we stop reading half-way
            }
            if (block != null) {
                if (filled > 0) {
                    submit(p, block, filled);
                } else {
                    p.writer.release(block);
                }
            }
            try {
                p.writer.sync();
            } catch (IOException e) {
                throw new LocalWriteException(e);
            }
        }
        if (network != null) {
            throw network;
        }
        if (overflow) {
            p.restart();
            return "the server sent more than the " + size + " bytes the file list gives";
        }
        return p.have < size ? "the connection ended after " + p.have + " of " + size + " bytes" : null;
    }

    private static byte[] acquire(DiskWriter writer) throws LocalWriteException {
        try {
            return writer.acquire();
        } catch (IOException e) {
            throw new LocalWriteException(e);
        }
    }

    private static void submit(Part p, byte[] block, int length) throws LocalWriteException {
        try {
            p.writer.submit(block, length, p.have);
        } catch (IOException e) {
            throw new LocalWriteException(e);
        }
        p.have += length;
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
        ByteBuffer b = ByteBuffer.allocate(DiskWriter.BLOCK);
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
