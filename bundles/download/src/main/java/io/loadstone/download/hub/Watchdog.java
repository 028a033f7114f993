package io.loadstone.download.hub;

import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * Watches one HTTP exchange: cancelled by the user, or silent for longer than the idle timeout. The JDK
 * client's request timeout covers only the wait for headers, so a server that stops sending mid-body
 * would otherwise hang a download forever.
 */
public final class Watchdog {

    private final BooleanSupplier cancelled;
    private final long idleNanos;
    private volatile long lastActivity = System.nanoTime();

    public Watchdog(BooleanSupplier cancelled, Duration idleTimeout) {
        this.cancelled = cancelled;
        this.idleNanos = idleTimeout.toNanos();
    }

    /** Data arrived. */
    public void touch() {
        lastActivity = System.nanoTime();
    }

    public boolean isCancelled() {
        return cancelled.getAsBoolean();
    }

    /** Throws when cancelled ({@link CancellationException}) or idle too long ({@link IdleTimeoutException}). */
    public void check() throws IdleTimeoutException {
        if (cancelled.getAsBoolean()) {
            throw new CancellationException("cancelled");
        }
        long idle = System.nanoTime() - lastActivity;
        if (idle > idleNanos) {
            throw new IdleTimeoutException("no data from the server for " + Duration.ofNanos(idle).toSeconds() + " s");
        }
    }

    /** The server went silent. */
    public static final class IdleTimeoutException extends java.io.IOException {
        private static final long serialVersionUID = 1L;

        public IdleTimeoutException(String message) {
            super(message);
        }
    }
}
