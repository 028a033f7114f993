package io.loadstone.download;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Receives a {@link DownloadJob}'s events. Events come from the job's threads but one at a time, in order;
 * a listener should return quickly. An exception thrown here is logged and does not stop the download.
 */
@ConsumerType
@FunctionalInterface
public interface DownloadListener {

    /** A listener that ignores everything. */
    DownloadListener NONE = event -> {
    };

    void onEvent(DownloadEvent event);
}
