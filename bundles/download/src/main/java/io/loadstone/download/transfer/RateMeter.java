package io.loadstone.download.transfer;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Optional;

/**
 * Transfer rate over the last few seconds (a sliding window of samples), so the rate and ETA follow changes in
 * speed without jumping with every chunk.
 */
final class RateMeter {

    private static final long WINDOW_NANOS = Duration.ofSeconds(5).toNanos();

    private record Sample(long nanos, long bytes) {
    }

    private final ArrayDeque<Sample> samples = new ArrayDeque<>();

    /** Records the counter's value now; returns the rate in bytes per second (0 until two samples exist). */
    synchronized double sample(long nanos, long bytes) {
        samples.addLast(new Sample(nanos, bytes));
        while (samples.size() > 2 && nanos - samples.peekFirst().nanos() > WINDOW_NANOS) {
            samples.removeFirst();
        }
        Sample first = samples.peekFirst();
        long dt = nanos - first.nanos();
        if (dt <= 0) {
            return 0;
        }
        return Math.max(0, (bytes - first.bytes())) * 1e9 / dt;
    }

    /** Time to move {@code remaining} bytes at {@code rate}. */
    static Optional<Duration> eta(long remaining, double rate) {
        if (remaining <= 0) {
            return Optional.of(Duration.ZERO);
        }
        if (rate < 1) {
            return Optional.empty();
        }
        return Optional.of(Duration.ofSeconds((long) Math.ceil(remaining / rate)));
    }
}
