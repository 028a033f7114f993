package io.loadstone.engine.kernel;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.RecursiveAction;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The compute threads of one model. Work is split into contiguous index ranges (rows of a
 * matrix, heads of attention) so that each thread streams its own part of the weights.
 *
 * <p>A private ForkJoinPool rather than the common pool: the thread count is a user option,
 * and closing the model must stop exactly its threads (the common pool is shared with the rest of
 * the OSGi framework).
 */
public final class ComputePool implements AutoCloseable {

    /** Body of a parallel loop over {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    private final int threads;
    private final ForkJoinPool pool;

    /** {@code name} prefixes the thread names (shown in thread dumps and profilers). */
    public ComputePool(int threads, String name) {
        this.threads = threads;
        if (threads <= 1) {
            this.pool = null;
        } else {
            AtomicInteger n = new AtomicInteger();
            this.pool = new ForkJoinPool(threads, p -> {
                ForkJoinWorkerThread t = new ForkJoinWorkerThread(null, p, true) {
                };
                t.setName(name + "-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
            }, null, false);
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
        int maxChunks = Math.max(1, n / Math.max(1, minChunk));
        int chunks = Math.min(threads * 4, maxChunks);
        if (pool == null || chunks <= 1) {
            body.run(0, n);
            return;
        }
        int chunk = (n + chunks - 1) / chunks;
        chunk = (chunk + align - 1) / align * align;
        if (pool.isShutdown()) {
            throw new IllegalStateException("the model is closed");
        }
        pool.invoke(new Split(body, 0, n, chunk));
    }

    private static final class Split extends RecursiveAction {
        private static final long serialVersionUID = 1L;
        private final transient RangeBody body;
        private final int from;
        private final int to;
        private final int chunk;

        Split(RangeBody body, int from, int to, int chunk) {
            this.body = body;
            this.from = from;
            this.to = to;
            this.chunk = chunk;
        }

        @Override
        protected void compute() {
            if (to - from <= chunk) {
                body.run(from, to);
                return;
            }
            // Split on a chunk boundary so ranges stay aligned to the planned sizes.
            int pieces = (to - from + chunk - 1) / chunk;
            int mid = from + (pieces / 2) * chunk;
            invokeAll(new Split(body, from, mid, chunk), new Split(body, mid, to, chunk));
        }
    }

    /** Stops the threads; waits briefly for a running loop to finish. */
    @Override
    public void close() {
        if (pool != null) {
            pool.shutdown();
            try {
                if (!pool.awaitTermination(10, TimeUnit.SECONDS)) {
                    pool.shutdownNow();
                }
            } catch (InterruptedException e) {
                pool.shutdownNow();
                Thread.currentThread().interrupt();
            }
        }
    }

    public boolean isClosed() {
        return pool != null && pool.isShutdown();
    }
}
