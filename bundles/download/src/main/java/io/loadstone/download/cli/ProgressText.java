package io.loadstone.download.cli;

import java.time.Duration;
import java.util.Locale;
import java.util.Optional;

import io.loadstone.api.runtime.ByteSize;
import io.loadstone.download.DownloadEvent;

/** One line of progress: {@code  45.2%  1.23 GB of 2.72 GB  35.1 MB/s  ETA 0:43  files 3/7}. */
public final class ProgressText {

    private ProgressText() {
    }

    public static String line(DownloadEvent.Progress p) {
        DownloadEvent.Transfer t = p.total();
        return String.format(Locale.ROOT, "%5.1f%%  %s of %s  %s/s  ETA %s  files %d/%d", t.fraction() * 100,
                ByteSize.format(t.bytes()), ByteSize.format(t.size()),
                ByteSize.format((long) t.bytesPerSecond()), eta(t.eta()), p.filesDone(), p.filesTotal());
    }

    public static String eta(Optional<Duration> eta) {
        if (eta.isEmpty()) {
            return "--:--";
        }
        long s = eta.get().toSeconds();
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    public static String duration(Duration d) {
        return eta(Optional.of(d));
    }
}
