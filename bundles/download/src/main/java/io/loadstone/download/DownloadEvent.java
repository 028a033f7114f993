package io.loadstone.download;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What a {@link DownloadJob} reports to its {@link DownloadListener}. A job sends {@link Progress} about twice
 * a second, {@link FileVerified} as each file is complete, {@link Retrying} when it waits before another
 * attempt, and exactly one of {@link Completed}, {@link Failed} or {@link Cancelled} last.
 */
public sealed interface DownloadEvent {

    /**
     * Bytes so far of one file or of the whole job.
     *
     * @param name           the file's path in the repo, or the repo for the total
     * @param bytes          bytes on disk (including what an earlier, interrupted run fetched)
     * @param size           bytes when complete
     * @param bytesPerSecond recent rate (over the last few seconds)
     * @param eta            time left at that rate; empty while the rate is unknown or zero
     */
    record Transfer(String name, long bytes, long size, double bytesPerSecond, Optional<Duration> eta) {
        public Transfer {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(eta, "eta");
        }

        /** Completed fraction, 0 to 1. */
        public double fraction() {
            return size <= 0 ? 1.0 : Math.min(1.0, (double) bytes / size);
        }
    }

    /**
     * Progress of the job.
     *
     * @param total       all files together
     * @param active      the files being fetched right now
     * @param filesDone   files complete and verified
     * @param filesTotal  files in the plan
     */
    record Progress(Transfer total, List<Transfer> active, int filesDone, int filesTotal) implements DownloadEvent {
        public Progress {
            Objects.requireNonNull(total, "total");
            active = List.copyOf(active);
        }
    }

    /** A file is complete and its SHA-256 (LFS) or size (others) checked. */
    record FileVerified(String path, long size, Optional<String> sha256) implements DownloadEvent {
    }

    /** An attempt failed with a transient error; the job waits {@code delay} and tries again. */
    record Retrying(String path, int attempt, Duration delay, String reason) implements DownloadEvent {
    }

    /**
     * Every file is verified and in place.
     *
     * @param target         the model folder or file, now visible
     * @param bytesFetched   bytes this run transferred (not counting what was already on disk)
     * @param elapsed        wall time of this run
     * @param alreadyPresent true when the target already held exactly this download and nothing was fetched
     */
    record Completed(Path target, long bytesFetched, Duration elapsed, boolean alreadyPresent)
            implements DownloadEvent {
    }

    /** The job stopped on an error; partial files stay in the staging folder for a resume when that helps. */
    record Failed(DownloadException error) implements DownloadEvent {
        /** The message for the user. */
        public String message() {
            return error.getMessage();
        }
    }

    /** The job was cancelled; partial files stay in {@code staging} and a new job for the same plan resumes. */
    record Cancelled(Path staging) implements DownloadEvent {
    }
}
