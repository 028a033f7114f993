package io.loadstone.download.transfer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import io.loadstone.api.runtime.ByteSize;
import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.DownloadPlan;
import io.loadstone.download.RemoteFile;

/** Refuses to start a download that cannot fit: free space must cover what is still missing plus a margin. */
public final class DiskSpace {

    private DiskSpace() {
    }

    /** Bytes still to fetch for {@code plan}, given what the staging folder already holds. */
    public static long missingBytes(Staging staging, DownloadPlan plan) {
        Map<String, Staging.Verified> manifest = staging.readManifest();
        long missing = 0;
        for (RemoteFile f : plan.files()) {
            missing += f.size() - staging.stagedBytes(plan.localPath(f), f.size(), f.sha256(), manifest);
        }
        return missing;
    }

    /**
     * @param margin bytes that must stay free after the download
     * @throws DownloadException {@code DISK_SPACE} naming both numbers
     */
    public static void check(Staging staging, DownloadPlan plan, long margin) throws DownloadException {
        long missing = missingBytes(staging, plan);
        Path probe = staging.base();
        while (probe != null && !Files.exists(probe)) {
            probe = probe.getParent();
        }
        if (probe == null) {
            return;
        }
        long free;
        try {
            free = Files.getFileStore(probe).getUsableSpace();
        } catch (IOException e) {
            return; // unknown free space (some network file systems): let the download find out
        }
        if (free < missing + margin) {
            throw new DownloadException(Reason.DISK_SPACE, "Not enough free disk space for " + plan.ref() + " in "
                    + staging.base() + ": it needs " + ByteSize.format(missing) + " (" + missing
                    + " bytes) plus a safety margin of " + ByteSize.format(margin) + ", but only "
                    + ByteSize.format(free) + " (" + free + " bytes) are free. Free some space or choose"
                    + " another models folder.");
        }
    }
}
