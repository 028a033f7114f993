package io.loadstone.core.runtime;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import io.loadstone.api.runtime.ModelEvent;
import io.loadstone.api.runtime.ModelEventListener;

/**
 * Delivers events to listeners on one thread, in order. A dedicated thread keeps a slow
 * or failing listener (a browser behind a bad network) from stalling a load or unbind.
 */
final class EventHub implements AutoCloseable {

    private static final Logger LOG = System.getLogger(EventHub.class.getName());

    private final List<ModelEventListener> listeners = new CopyOnWriteArrayList<>();
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "loadstone-events");
        t.setDaemon(true);
        return t;
    });

    void add(ModelEventListener l) {
        listeners.add(l);
    }

    void remove(ModelEventListener l) {
        listeners.remove(l);
    }

    void fire(ModelEvent e) {
        LOG.log(e.type() == ModelEvent.Type.LOAD_FAILED || e.type() == ModelEvent.Type.LOADER_GONE ? Level.WARNING
                : Level.INFO, () -> e.type() + (e.model().isEmpty() ? "" : " " + e.model())
                        + (e.loader().isEmpty() ? "" : " [" + e.loader() + "]")
                        + (e.message().isEmpty() ? "" : ": " + e.message()));
        if (thread.isShutdown()) {
            return;
        }
        thread.execute(() -> {
            for (ModelEventListener l : listeners) {
                try {
                    l.modelEvent(e);
                } catch (RuntimeException ex) {
                    LOG.log(Level.WARNING, "Event listener " + l.getClass().getName() + " failed", ex);
                }
            }
        });
    }

    @Override
    public void close() {
        thread.shutdown();
        try {
            thread.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
