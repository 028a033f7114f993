package io.loadstone.download.hub;

import java.time.Duration;

/** Waits between attempts; a download job's pause ends early when the job is cancelled. */
@FunctionalInterface
public interface Pause {

    /** Plain sleep, ended only by interruption. */
    Pause SLEEP = d -> {
        Thread.sleep(d);
        return true;
    };

    /**
     * Waits {@code duration}.
     *
     * @return false when the wait was cut short by a cancel
     */
    boolean pause(Duration duration) throws InterruptedException;
}
