package io.loadstone.download.hub;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Bounded retries with exponential backoff and jitter, for 5xx, 408, 429, timeouts and dropped connections.
 * Jitter (a random wait between half and all of the backoff) keeps parallel downloads from hammering a
 * recovering server in lockstep.
 *
 * @param retries       attempts after the first one
 * @param base          wait before the first retry (before jitter)
 * @param max           cap on one wait
 * @param maxRetryAfter longest {@code Retry-After} the downloader honours; a longer one ends the download
 *                      with a message saying when to try again
 */
public record RetryPolicy(int retries, Duration base, Duration max, Duration maxRetryAfter) {

    public RetryPolicy {
        if (retries < 0) {
            throw new IllegalArgumentException("retries must be >= 0, not " + retries);
        }
        if (base.isNegative() || max.isNegative() || maxRetryAfter.isNegative()) {
            throw new IllegalArgumentException("retry waits must not be negative");
        }
    }

    /** The wait before retry number {@code attempt} (1 for the first retry). */
    public Duration backoff(int attempt) {
        long baseMs = Math.max(1, base.toMillis());
        int shift = Math.min(30, Math.max(0, attempt - 1));
        long ms = Math.min(max.toMillis(), baseMs << shift);
        long jittered = ms / 2 + ThreadLocalRandom.current().nextLong(ms / 2 + 1);
        return Duration.ofMillis(jittered);
    }
}
