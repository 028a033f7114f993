package io.loadstone.core.runtime;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.concurrent.TimeUnit;

/**
 * Tells the runtime when the models folder changes (a download finished, a file was
 * copied in), so open pages refresh their model list without polling. Bursts of events
 * (a multi-GB copy) are folded into one notification per quiet period.
 */
final class FolderWatch implements AutoCloseable {

    private static final Logger LOG = System.getLogger(FolderWatch.class.getName());
    private static final long QUIET_MS = 500;

    private final WatchService service;
    private final Thread thread;

    private FolderWatch(WatchService service, Path dir, Runnable onChange) {
        this.service = service;
        this.thread = new Thread(() -> run(onChange), "loadstone-watch " + dir.getFileName());
        this.thread.setDaemon(true);
    }

    /** Starts watching {@code dir}; returns null (and logs why) when the folder cannot be watched. */
    static FolderWatch start(Path dir, Runnable onChange) {
        try {
            WatchService ws = FileSystems.getDefault().newWatchService();
            dir.register(ws, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_DELETE,
                    StandardWatchEventKinds.ENTRY_MODIFY);
            FolderWatch w = new FolderWatch(ws, dir, onChange);
            w.thread.start();
            return w;
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "Not watching " + dir + " for changes (" + e.getMessage()
                    + "); use refresh to see new models.");
            return null;
        }
    }

    private void run(Runnable onChange) {
        try {
            while (true) {
                WatchKey key = service.take();
                key.pollEvents();
                key.reset();
                // Fold a burst of events into one notification.
                WatchKey more;
                while ((more = service.poll(QUIET_MS, TimeUnit.MILLISECONDS)) != null) {
                    more.pollEvents();
                    more.reset();
                }
                onChange.run();
            }
        } catch (InterruptedException | ClosedWatchServiceException e) {
            // closing
        }
    }

    @Override
    public void close() {
        try {
            service.close();
        } catch (IOException e) {
            // nothing to do
        }
        thread.interrupt();
    }
}
