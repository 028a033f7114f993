package io.loadstone.download.transfer;

import java.io.IOException;
import java.net.http.HttpResponse.BodySubscriber;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongConsumer;

import io.loadstone.download.hub.HubClient;
import io.loadstone.download.hub.Watchdog;

/**
 * Streams a response body into a file at a given offset, feeding the same bytes to the SHA-256 as they are
 * written, so verification needs no second pass. Bytes are gathered into a 1 MiB buffer and hashed and written
 * together (large digest updates and few system calls). The digest and the file always cover exactly the same
 * bytes, also when the transfer stops half-way, which is what makes resuming with {@code Range} safe.
 *
 * <p>At most {@code limit} bytes are taken: a server sending more than the file list promised is cut off.
 */
final class FileSink implements BodySubscriber<Long> {

    private final FileChannel channel;
    private final MessageDigest digest;
    private final byte[] buffer;
    private final long limit;
    private final LongConsumer onBytes;
    private final Watchdog watchdog;
    private final ReentrantLock lock = new ReentrantLock();
    private final CompletableFuture<Long> body = new CompletableFuture<>();

    private Flow.Subscription subscription;
    private long flushed;
    private int buffered;
    private boolean closed;
    private boolean overflow;

    /**
     * @param start  file offset to write at (the digest must already cover bytes {@code 0..start})
     * @param digest SHA-256 in progress, or null for files checked by size only
     */
    FileSink(FileChannel channel, long start, long limit, MessageDigest digest, byte[] buffer, LongConsumer onBytes,
            Watchdog watchdog) {
        this.channel = channel;
        this.flushed = start;
        this.limit = limit;
        this.digest = digest;
        this.buffer = buffer;
        this.onBytes = onBytes;
        this.watchdog = watchdog;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
        lock.lock();
        try {
            if (closed) {
                s.cancel();
                return;
            }
            subscription = s;
        } finally {
            lock.unlock();
        }
        s.request(1);
    }

    @Override
    public void onNext(List<ByteBuffer> items) {
        Flow.Subscription s;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            s = subscription;
            long got = 0;
            for (ByteBuffer item : items) {
                long room = limit - flushed - buffered;
                int n = item.remaining();
                if (n > room) {
                    item.limit(item.position() + (int) room);
                    overflow = true;
                }
                got += item.remaining();
                while (item.hasRemaining()) {
                    int k = Math.min(item.remaining(), buffer.length - buffered);
                    item.get(buffer, buffered, k);
                    buffered += k;
                    if (buffered == buffer.length) {
                        flush();
                    }
                }
                if (overflow) {
                    break;
                }
            }
            watchdog.touch();
            onBytes.accept(got);
            if (overflow) {
                flush();
                closed = true;
                s.cancel();
                body.complete(flushed);
                return;
            }
        } catch (IOException e) {
            closed = true;
            subscription.cancel();
            body.completeExceptionally(new HubClient.UncheckedIOException(e));
            return;
        } finally {
            lock.unlock();
        }
        s.request(1);
    }

    @Override
    public void onError(Throwable t) {
        lock.lock();
        try {
            if (!closed) {
                closed = true;
                flush();
            }
        } catch (IOException e) {
            body.completeExceptionally(new HubClient.UncheckedIOException(e));
            return;
        } finally {
            lock.unlock();
        }
        body.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
        lock.lock();
        try {
            if (!closed) {
                closed = true;
                flush();
            }
        } catch (IOException e) {
            body.completeExceptionally(new HubClient.UncheckedIOException(e));
            return;
        } finally {
            lock.unlock();
        }
        body.complete(flushed);
    }

    /**
     * Stops taking data (waiting for a chunk being written), writes what is buffered and cancels the
     * subscription. Afterwards {@link #position()} is final.
     *
     * @throws IOException when the buffered bytes cannot be written
     */
    void close() throws IOException {
        Flow.Subscription s;
        lock.lock();
        try {
            s = subscription;
            if (!closed) {
                closed = true;
                flush();
            }
        } finally {
            lock.unlock();
        }
        if (s != null) {
            s.cancel();
        }
    }

    /** Bytes of the file now written (and hashed). */
    long position() {
        lock.lock();
        try {
            return flushed + buffered;
        } finally {
            lock.unlock();
        }
    }

    /** True when the server sent more than {@code limit} bytes. */
    boolean overflowed() {
        lock.lock();
        try {
            return overflow;
        } finally {
            lock.unlock();
        }
    }

    private void flush() throws IOException {
        if (buffered == 0) {
            return;
        }
        if (digest != null) {
            digest.update(buffer, 0, buffered);
        }
        ByteBuffer b = ByteBuffer.wrap(buffer, 0, buffered);
        long pos = flushed;
        while (b.hasRemaining()) {
            pos += channel.write(b, pos);
        }
        flushed += buffered;
        buffered = 0;
    }

    @Override
    public CompletionStage<Long> getBody() {
        return body;
    }
}
