package io.loadstone.download.hub;

import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Stops a job's transfers at once. A flag alone would not do: a worker blocked in a socket read never looks at
 * it, and closing an {@link java.net.HttpURLConnection} from another thread waits for that very read. Workers
 * are virtual threads, and interrupting a virtual thread blocked on a socket closes the socket, so
 * {@link #cancel()} interrupts every registered worker.
 */
public final class Cancellation {

    private final Set<Thread> workers = ConcurrentHashMap.newKeySet();
    private volatile boolean cancelled;

    public boolean isCancelled() {
        return cancelled;
    }

    /** Throws {@link CancellationException} once cancelled. */
    public void check() {
        if (cancelled) {
            throw new CancellationException("cancelled");
        }
    }

    /** Cancels and interrupts every worker inside {@link #enter()}…{@link #exit()}. */
    public void cancel() {
        cancelled = true;
        workers.forEach(Thread::interrupt);
    }

    /** The current thread starts work that {@link #cancel()} must be able to interrupt. */
    public void enter() {
        workers.add(Thread.currentThread());
        if (cancelled) {
            workers.remove(Thread.currentThread());
            throw new CancellationException("cancelled");
        }
    }

    /** The current thread's work is over. */
    public void exit() {
        workers.remove(Thread.currentThread());
    }
}
