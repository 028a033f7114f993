package io.loadstone.download.transfer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Hashes and writes received blocks on a thread of its own, so SHA-256 (about 1.3 GB/s on one core) and disk
 * writes overlap with receiving instead of taking turns with it on the HTTP client's thread. Blocks are hashed
 * and written strictly in the order they were submitted; a small pool of buffers bounds the memory and slows the
 * receiver down when the disk cannot keep up.
 */
final class DiskWriter implements AutoCloseable {

    static final int BLOCK = 1 << 20;
    private static final int BLOCKS = 4;
    private static final long FLUSH_EVERY = 64L << 20;

    private record Block(byte[] data, int length, long position) {
    }

    private static final Block SYNC = new Block(new byte[0], 0, -1);
    private static final Block STOP = new Block(new byte[0], 0, -2);

    private final FileChannel channel;
    private final MessageDigest digest;
    private final BlockingQueue<byte[]> free = new ArrayBlockingQueue<>(BLOCKS);
    private final BlockingQueue<Block> work = new ArrayBlockingQueue<>(BLOCKS + 2);
    private final BlockingQueue<Object> synced = new ArrayBlockingQueue<>(1);
    private final Thread thread;
    private volatile IOException failure;
    private long unflushed; // writer thread only
    private Thread flusher; // writer thread only

    /** @param digest SHA-256 to feed, or null for files checked by size only */
    DiskWriter(FileChannel channel, MessageDigest digest) {
        this.channel = channel;
        this.digest = digest;
        for (int i = 0; i < BLOCKS; i++) {
            free.add(new byte[BLOCK]);
        }
        this.thread = Thread.ofPlatform().name("loadstone-download-writer").daemon(true).start(this::run);
    }

    /** An empty block to fill; waits while every block is queued for writing. */
    byte[] acquire() throws IOException {
        check();
        return uninterruptibly(free::take);
    }

    /** Queues {@code length} bytes of {@code block} for hashing and writing at {@code position}. */
    void submit(byte[] block, int length, long position) throws IOException {
        check();
        put(new Block(block, length, position));
    }

    /** Returns an unused block. */
    void release(byte[] block) {
        free.offer(block);
    }

    /** Waits until everything submitted is hashed and written; throws the writer's error, if any. */
    void sync() throws IOException {
        put(SYNC);
        uninterruptibly(synced::take);
        check();
    }

    private void put(Block b) {
        uninterruptibly(() -> {
            work.put(b);
            return b;
        });
    }

    private interface Wait<T> {
        T get() throws InterruptedException;
    }

    /**
     * Waits for the writer even when interrupted (a cancel interrupts the reading thread to close its socket):
     * the wait is bounded by the disk, and stopping half-way would leave the digest and the file out of step.
     * The interrupt is kept for the caller.
     */
    private static <T> T uninterruptibly(Wait<T> w) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return w.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void check() throws IOException {
        IOException f = failure;
        if (f != null) {
            throw new IOException(f.getMessage(), f);
        }
    }

    private void run() {
        try {
            while (true) {
                Block b = work.take();
                if (b == STOP) {
                    return;
                }
                if (b == SYNC) {
                    synced.put(Boolean.TRUE);
                    continue;
                }
                try {
                    if (failure == null) {
                        if (digest != null) {
                            digest.update(b.data(), 0, b.length());
                        }
                        ByteBuffer buf = ByteBuffer.wrap(b.data(), 0, b.length());
                        long pos = b.position();
                        while (buf.hasRemaining()) {
                            pos += channel.write(buf, pos);
                        }
                        flushNowAndThen(b.length());
                    }
                } catch (IOException e) {
                    failure = e;
                } finally {
                    free.offer(b.data());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Every 64 MiB, starts writing the file back to disk in the background. Without it the page cache holds up
     * to a tenth of the RAM unwritten and the final fsync (needed before the model becomes visible) waits for
     * all of it after the last byte arrived; with it, disk and network work at the same time.
     */
    private void flushNowAndThen(int written) {
        unflushed += written;
        if (unflushed >= FLUSH_EVERY && (flusher == null || !flusher.isAlive())) {
            unflushed = 0;
            flusher = Thread.ofVirtual().name("loadstone-download-flush").start(() -> {
                try {
                    channel.force(false);
                } catch (IOException ignored) {
                    // the final force reports real disk errors
                }
            });
        }
    }

    @Override
    public void close() {
        put(STOP);
        uninterruptibly(() -> {
            thread.join();
            return thread;
        });
        Thread f = flusher; // the writer thread has ended: no race on the field
        if (f != null) {
            uninterruptibly(() -> {
                f.join();
                return f;
            });
        }
    }
}
