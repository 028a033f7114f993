package io.loadstone.download.transfer;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionService;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

import io.loadstone.download.DownloadEvent;
import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.DownloadJob;
import io.loadstone.download.DownloadListener;
import io.loadstone.download.DownloadPlan;
import io.loadstone.download.DownloadPlan.Layout;
import io.loadstone.download.RemoteFile;
import io.loadstone.download.hub.Cancellation;
import io.loadstone.download.hub.HubClient;

/**
 * One download: fetches the plan's files in parallel into the staging folder, then publishes them in one
 * rename. The first file that fails stops the others (their partial files stay for a resume); a cancel does the
 * same and reports {@link DownloadEvent.Cancelled}.
 */
public final class Job implements DownloadJob {

    private static final System.Logger LOG = System.getLogger(Job.class.getName());
    private static final long TICK_MILLIS = 500;

    private final DownloadPlan plan;
    private final HubClient hub;
    private final Staging staging;
    private final FileLock lock;
    private final DownloadListener listener;
    private final int parallel;
    private final Consumer<Path> onPublished;
    private final Consumer<Job> onFinished;
    private final Consumer<URI> onRequest;
    private final List<FileProgress> files = new ArrayList<>();
    private final LongAdder fetched = new LongAdder();
    private final RateMeter totalRate = new RateMeter();
    private final AtomicBoolean cancelled = new AtomicBoolean();
    private final AtomicBoolean failed = new AtomicBoolean();
    private final CountDownLatch stop = new CountDownLatch(1);
    private final Cancellation cancellation = new Cancellation();
    private final CompletableFuture<Path> result = new CompletableFuture<>();
    private final Object emitLock = new Object();
    private final long startNanos = System.nanoTime();
    private volatile DownloadEvent.Progress progress;
    private volatile DownloadEvent outcome;
    private boolean ended; // guarded by emitLock

    /**
     * @param lock        the staging lock, taken by the caller; released when the job ends
     * @param onPublished called with the target after it appeared (the runtime rescans its models)
     * @param onFinished  called when the job ends in any way, before its outcome is announced
     * @param onRequest   told every URL requested (for tests and debugging), may be null
     */
    public Job(DownloadPlan plan, HubClient hub, Staging staging, FileLock lock, DownloadListener listener,
            int parallel, Consumer<Path> onPublished, Consumer<Job> onFinished, Consumer<URI> onRequest) {
        if (plan.needsChoice()) {
            throw new IllegalArgumentException("plan needs a GGUF choice");
        }
        this.plan = plan;
        this.hub = hub;
        this.staging = staging;
        this.lock = lock;
        this.listener = listener == null ? DownloadListener.NONE : listener;
        this.parallel = Math.max(1, parallel);
        this.onPublished = onPublished;
        this.onFinished = onFinished;
        this.onRequest = onRequest;
        for (RemoteFile f : plan.files()) {
            files.add(new FileProgress(f, plan.localPath(f), fetched));
        }
        this.progress = snapshot(System.nanoTime());
    }

    /** Starts the job's coordinating thread. */
    public Job begin() {
        Thread.ofPlatform().name("loadstone-download " + plan.ref()).daemon(true).start(this::run);
        return this;
    }

    @Override
    public DownloadPlan plan() {
        return plan;
    }

    @Override
    public DownloadEvent.Progress progress() {
        return progress;
    }

    @Override
    public void cancel() {
        if (!isDone() && cancelled.compareAndSet(false, true)) {
            LOG.log(Level.INFO, "Cancelling the download of {0}", plan.ref());
            halt();
        }
    }

    @Override
    public boolean isDone() {
        return result.isDone();
    }

    @Override
    public Optional<DownloadEvent> outcome() {
        return Optional.ofNullable(outcome);
    }

    @Override
    public Path await() throws DownloadException, InterruptedException {
        try {
            return result.get();
        } catch (ExecutionException e) {
            throw unwrap(e);
        }
    }

    @Override
    public Optional<Path> await(Duration timeout) throws DownloadException, InterruptedException {
        try {
            return Optional.of(result.get(timeout.toNanos(), TimeUnit.NANOSECONDS));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (ExecutionException e) {
            throw unwrap(e);
        }
    }

    private static DownloadException unwrap(ExecutionException e) {
        if (e.getCause() instanceof DownloadException d) {
            // a fresh exception whose stack shows the caller, with the job's as the cause
            return new DownloadException(d.reason(), d.getMessage(), d);
        }
        return new DownloadException(Reason.IO, String.valueOf(e.getCause()), e.getCause());
    }

    private void run() {
        DownloadEvent end;
        Path target = staging.target();
        try {
            end = download(target);
        } catch (DownloadException e) {
            end = new DownloadEvent.Failed(e);
        } catch (CancellationException e) {
            end = new DownloadEvent.Cancelled(staging.dir());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            end = new DownloadEvent.Cancelled(staging.dir());
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, "Download of " + plan.ref() + " failed unexpectedly", e);
            end = new DownloadEvent.Failed(new DownloadException(Reason.IO, "The download of " + plan.ref()
                    + " failed unexpectedly: " + e, e));
        }
        if (end instanceof DownloadEvent.Failed f && f.error().reason() == Reason.CANCELLED) {
            end = new DownloadEvent.Cancelled(staging.dir());
        }
        staging.removeIfEmpty(); // nothing fetched (already there, refused, cancelled at once): leave no trace
        staging.unlock(lock, end instanceof DownloadEvent.Completed);
        try {
            onFinished.accept(this);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "Download bookkeeping failed", e);
        }
        progress = snapshot(System.nanoTime());
        emit(progress);
        finish(end);
    }

    private DownloadEvent download(Path target) throws DownloadException, InterruptedException {
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            String mismatch = existingMismatch(target);
            if (mismatch != null) {
                throw new DownloadException(Reason.ALREADY_EXISTS, target + " already exists and is not this"
                        + " download of " + plan.ref() + " (" + mismatch + "); delete or rename it to download again");
            }
            LOG.log(Level.INFO, "{0} is already in {1}", plan.ref(), target);
            staging.removeIfEmpty();
            for (FileProgress f : files) {
                f.resumedAt(f.file.size());
                f.done = true;
            }
            return new DownloadEvent.Completed(target, 0, elapsed(), true);
        }
        Set<String> locals = new LinkedHashSet<>();
        files.forEach(f -> locals.add(f.localPath));
        staging.clean(locals);
        Map<String, Staging.Verified> manifest = staging.readManifest();
        FileFetcher fetcher = new FileFetcher(hub, plan.ref(), staging, this::pause, cancellation, this::emit,
                onRequest);
        List<FileProgress> order = new ArrayList<>(files);
        order.sort(Comparator.comparingLong((FileProgress f) -> f.file.size()).reversed());
        // Virtual threads: interrupting one blocked in a socket read closes that socket (see Cancellation).
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(parallel, Math.max(1, order.size())),
                Thread.ofVirtual().name("loadstone-download-", 1).factory());
        DownloadException failure = null;
        try {
            CompletionService<FileProgress> cs = new ExecutorCompletionService<>(pool);
            for (FileProgress f : order) {
                cs.submit(() -> {
                    cancellation.enter();
                    f.active = true;
                    try {
                        fetcher.fetch(f.file, f.localPath, manifest, f);
                        f.done = true;
                    } finally {
                        f.active = false;
                        cancellation.exit();
                    }
                    return f;
                });
            }
            int pending = order.size();
            while (pending > 0) {
                Future<FileProgress> done = cs.poll(TICK_MILLIS, TimeUnit.MILLISECONDS);
                if (done == null) {
                    tick();
                    continue;
                }
                pending--;
                try {
                    done.get();
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    if (cancelled.get()) {
                        continue; // after a cancel, errors are only the interrupted transfers
                    }
                    if (cause instanceof DownloadException d && d.reason() != Reason.CANCELLED) {
                        if (failure == null) {
                            failure = d;
                            failed.set(true);
                            halt();
                            LOG.log(Level.INFO, "Stopping the download of {0}: {1}", plan.ref(), d.getMessage());
                        }
                    } else if (!(cause instanceof CancellationException || cause instanceof DownloadException)) {
                        if (failure == null) {
                            failure = new DownloadException(Reason.IO, "The download of " + plan.ref()
                                    + " failed unexpectedly: " + cause, cause);
                            LOG.log(Level.ERROR, "Download of " + plan.ref() + " failed unexpectedly", cause);
                            failed.set(true);
                            halt();
                        }
                    }
                }
            }
        } catch (InterruptedException e) {
            cancelled.set(true);
            halt();
            throw e;
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(30, TimeUnit.SECONDS);
        }
        if (failure != null) {
            throw failure;
        }
        if (cancelled.get()) {
            throw new CancellationException();
        }
        if (plan.layout() != Layout.SINGLE_FILE) {
            try {
                Metadata.write(staging.dir(), plan, hub.endpoint().repoPage(plan.ref()).toString());
            } catch (IOException e) {
                throw Staging.io("Cannot write the metadata file in " + staging.dir(), e);
            }
        }
        staging.publish(plan.layout() == Layout.SINGLE_FILE ? plan.localPath(plan.files().get(0)) : null);
        LOG.log(Level.INFO, "Downloaded {0} into {1}", plan.ref(), target);
        try {
            onPublished.accept(target);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "Could not announce the new model " + target, e);
        }
        return new DownloadEvent.Completed(target, fetched.sum(), elapsed(), false);
    }

    /** Null when {@code target} already holds exactly this download, else why not. */
    private String existingMismatch(Path target) throws InterruptedException {
        if (plan.layout() != Layout.SINGLE_FILE) {
            return Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS) ? Metadata.mismatch(target, plan)
                    : "it is not a folder";
        }
        RemoteFile f = plan.files().get(0);
        try {
            if (!Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS)) {
                return "it is not a regular file";
            }
            if (Files.size(target) != f.size()) {
                return "it has " + Files.size(target) + " bytes, the repo's file has " + f.size();
            }
            if (f.sha256().isEmpty()) {
                return null;
            }
            MessageDigest md = FileFetcher.sha256();
            try (FileChannel ch = FileChannel.open(target, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                ByteBuffer b = ByteBuffer.allocate(1 << 20);
                while (ch.read(b) > 0) {
                    if (stopping()) {
                        throw new InterruptedException("cancelled");
                    }
                    b.flip();
                    md.update(b);
                    b.clear();
                }
            }
            String got = HexFormat.of().formatHex(md.digest());
            return got.equals(f.sha256().get()) ? null : "its SHA-256 differs from the repo's file";
        } catch (IOException e) {
            return "it cannot be read (" + e.getMessage() + ")";
        }
    }

    /** Stops every file: wakes pauses, disconnects open connections. */
    private void halt() {
        stop.countDown();
        cancellation.cancel();
    }

    private boolean stopping() {
        return cancelled.get() || failed.get();
    }

    private boolean pause(Duration d) throws InterruptedException {
        return !stop.await(d.toNanos(), TimeUnit.NANOSECONDS);
    }

    private Duration elapsed() {
        return Duration.ofNanos(System.nanoTime() - startNanos);
    }

    private void tick() {
        progress = snapshot(System.nanoTime());
        emit(progress);
    }

    private DownloadEvent.Progress snapshot(long now) {
        long bytes = 0;
        int done = 0;
        List<DownloadEvent.Transfer> active = new ArrayList<>();
        for (FileProgress f : files) {
            long b = Math.min(f.onDisk(), f.file.size());
            bytes += b;
            if (f.done) {
                done++;
            }
            double rate = f.rate.sample(now, f.fetched());
            if (f.active) {
                active.add(new DownloadEvent.Transfer(f.file.path(), b, f.file.size(), rate,
                        RateMeter.eta(f.file.size() - b, rate)));
            }
        }
        long total = plan.totalBytes();
        double rate = totalRate.sample(now, fetched.sum());
        return new DownloadEvent.Progress(new DownloadEvent.Transfer(plan.ref().toString(), bytes, total, rate,
                RateMeter.eta(total - bytes, rate)), active, done, files.size());
    }

    private void emit(DownloadEvent e) {
        synchronized (emitLock) {
            if (ended) {
                return;
            }
            try {
                listener.onEvent(e);
            } catch (RuntimeException ex) {
                LOG.log(Level.WARNING, "A download listener failed on " + e.getClass().getSimpleName(), ex);
            }
        }
    }

    private void finish(DownloadEvent end) {
        synchronized (emitLock) {
            outcome = end;
            try {
                listener.onEvent(end);
            } catch (RuntimeException ex) {
                LOG.log(Level.WARNING, "A download listener failed on the outcome", ex);
            }
            ended = true;
        }
        switch (end) {
            case DownloadEvent.Completed c -> result.complete(c.target());
            case DownloadEvent.Failed f -> result.completeExceptionally(f.error());
            case DownloadEvent.Cancelled c -> result.completeExceptionally(new DownloadException(Reason.CANCELLED,
                    "The download of " + plan.ref() + " was cancelled; its partial files are kept in " + c.staging()
                            + " and the same download resumes from them"));
            default -> result.completeExceptionally(new IllegalStateException(String.valueOf(end)));
        }
    }
}
