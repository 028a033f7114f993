package io.loadstone.engine.kernel;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The compute threads of one model. Work is split into contiguous index ranges (rows of a
 * matrix, heads of attention) so that each thread streams its own part of the weights.
 *
 * <p>Generating one token runs about five parallel loops per layer, each only tens to hundreds
 * of microseconds long, back to back. A fork/join pool parks its workers between them and
 * leaves the calling thread idle, so every loop paid a wake-up of each worker and of the caller
 * (measured: a quarter of the decode time on 2 cores). This pool works like llama.cpp's thread
 * pool instead: the calling thread is one of the {@code threads} workers, the others spin
 * for a short while after each loop so the next one starts without a wake-up, and only then
 * park. Ranges are claimed from a shared counter, so a thread that the OS delayed does not
 * hold the others back.
 *
 * <p>Loops from several threads at once are run one after another (a model's sessions share
 * the pool); a loop started from inside a loop body runs on the calling thread.
 */
public final class ComputePool implements AutoCloseable {

    /** Body of a parallel loop over {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    /**
     * How long an idle worker spins before it parks. Long enough to bridge the gaps between
     * the loops of one forward pass (norms, RoPE, residual adds: microseconds), short enough
     * that an idle model costs no CPU.
     */
    private static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(200);

    private final int threads;
    private final Worker[] workers;
    private final ReentrantLock entry = new ReentrantLock();
    private volatile Job job;
    private volatile int generation;
    private volatile boolean closed;

    /** {@code name} prefixes the thread names (shown in thread dumps and profilers). */
    public ComputePool(int threads, String name) {
        this.threads = Math.max(1, threads);
        this.workers = new Worker[this.threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(name + "-" + (i + 1));
            workers[i].start();
        }
    }

    public int threads() {
        return threads;
    }

    /**
     * Runs {@code body} over {@code [0, n)} split into at most a few ranges per thread, each at
     * least {@code minChunk} long; small loops run on the calling thread.
     */
    public void parallelFor(int n, int minChunk, RangeBody body) {
        parallelFor(n, minChunk, 1, body);
    }

    /** As {@link #parallelFor(int, int, RangeBody)}, with range starts at multiples of {@code align}. */
    public void parallelFor(int n, int minChunk, int align, RangeBody body) {
        if (n <= 0) {
            return;
        }
        if (closed) {
            throw new IllegalStateException("the model is closed");
        }
        int maxChunks = Math.max(1, n / Math.max(1, minChunk));
        int chunks = Math.min(threads * 4, maxChunks);
        if (workers.length == 0 || chunks <= 1 || Thread.currentThread() instanceof Worker || entry.isHeldByCurrentThread()) {
            body.run(0, n);
            return;
        }
        int chunk = (n + chunks - 1) / chunks;
        chunk = (chunk + align - 1) / align * align;
        Job j = new Job(body, n, chunk);
        entry.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the model is closed");
            }
            job = j;
            generation++;
            for (Worker w : workers) {
                if (w.parked) {
                    LockSupport.unpark(w);
                }
            }
            j.work();
            j.awaitDone();
        } finally {
            job = null;
            entry.unlock();
        }
        j.rethrow();
    }

    /** One parallel loop: ranges are handed out by {@link #next}, completion counted in {@link #done}. */
    private static final class Job {
        final RangeBody body;
        final int n;
        final int chunk;
        final int ranges;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable failure;

        Job(RangeBody body, int n, int chunk) {
            this.body = body;
            this.n = n;
            this.chunk = chunk;
            this.ranges = (n + chunk - 1) / chunk;
        }

        void work() {
            int i;
            while ((i = next.getAndIncrement()) < ranges) {
                try {
                    if (failure == null) {
                        int from = i * chunk;
                        body.run(from, Math.min(n, from + chunk));
                    }
                } catch (Throwable t) {
                    if (failure == null) {
                        failure = t;
                    }
                } finally {
                    done.incrementAndGet();
                }
            }
        }

        void awaitDone() {
            int spins = 0;
            while (done.get() < ranges) {
                // Another thread is finishing its last range. Yield now and then: on a machine
                // with as many busy threads as cores it may be waiting for this core.
                if (++spins % 64 == 0) {
                    Thread.yield();
                } else {
                    Thread.onSpinWait();
                }
            }
        }

        void rethrow() {
            Throwable t = failure;
            if (t instanceof RuntimeException r) {
                throw r;
            }
            if (t instanceof Error e) {
                throw e;
            }
            if (t != null) {
                throw new IllegalStateException(t);
            }
        }
    }

    private final class Worker extends Thread {
        volatile boolean parked;

        Worker(String name) {
            super(name);
            setDaemon(true);
        }

        @Override
        public void run() {
            int seen = generation;
            while (!closed) {
                int g = generation;
                if (g != seen) {
                    seen = g;
                    Job j = job;
                    if (j != null) {
                        j.work();
                    }
                    continue;
                }
                long spinUntil = System.nanoTime() + SPIN_NANOS;
                while (generation == seen && !closed && System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                }
                if (generation == seen && !closed) {
                    // Dekker-style hand-off with parallelFor: it bumps generation, then reads
                    // parked; we set parked, then read generation. One of us sees the other.
                    parked = true;
                    if (generation == seen && !closed) {
                        LockSupport.park(this);
                    }
                    parked = false;
                }
            }
        }
    }

    /** Stops the threads; waits briefly for a running loop to finish. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        entry.lock();
        try {
            for (Worker w : workers) {
                LockSupport.unpark(w);
            }
        } finally {
            entry.unlock();
        }
        for (Worker w : workers) {
            try {
                w.join(TimeUnit.SECONDS.toMillis(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    public boolean isClosed() {
        return closed;
    }
}
