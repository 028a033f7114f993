package io.loadstone.download.transfer;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import io.loadstone.download.RemoteFile;

/** Bytes of one file: on disk (what progress shows) and fetched over the network in this run (what rates use). */
final class FileProgress {

    final RemoteFile file;
    final String localPath;
    private final AtomicLong onDisk = new AtomicLong();
    private final AtomicLong fetched = new AtomicLong();
    private final LongAdder jobFetched;
    volatile boolean active;
    volatile boolean done;
    final RateMeter rate = new RateMeter();

    FileProgress(RemoteFile file, String localPath, LongAdder jobFetched) {
        this.file = file;
        this.localPath = localPath;
        this.jobFetched = jobFetched;
    }

    /** The bytes on disk jumped: resumed from an earlier run, or started over. */
    void resumedAt(long bytes) {
        onDisk.set(bytes);
    }

    /** A chunk arrived. */
    void add(long n) {
        onDisk.addAndGet(n);
        fetched.addAndGet(n);
        jobFetched.add(n);
    }

    long onDisk() {
        return onDisk.get();
    }

    long fetched() {
        return fetched.get();
    }
}
