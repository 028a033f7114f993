package io.loadstone.download;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import org.osgi.annotation.versioning.ProviderType;

/** A running (or finished) download, made by {@link ModelDownloader#start}. */
@ProviderType
public interface DownloadJob {

    /** What this job downloads. */
    DownloadPlan plan();

    /** The latest progress (also sent to the listener). */
    DownloadEvent.Progress progress();

    /**
     * Stops the download. Partial files stay in the staging folder, nothing appears in the models folder,
     * and starting the same plan again resumes where this one stopped. Does nothing when already finished.
     */
    void cancel();

    /** True once the job completed, failed or was cancelled. */
    boolean isDone();

    /** The final event ({@link DownloadEvent.Completed}, {@link DownloadEvent.Failed} or
     *  {@link DownloadEvent.Cancelled}) once done. */
    Optional<DownloadEvent> outcome();

    /**
     * Waits for the job to end.
     *
     * @return the model folder or file
     * @throws DownloadException the job's error ({@link DownloadException.Reason#CANCELLED} when cancelled)
     */
    Path await() throws DownloadException, InterruptedException;

    /**
     * Waits at most {@code timeout}.
     *
     * @return the model folder or file, or empty when the job is still running
     */
    Optional<Path> await(Duration timeout) throws DownloadException, InterruptedException;
}
