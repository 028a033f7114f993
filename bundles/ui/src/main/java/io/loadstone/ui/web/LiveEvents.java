package io.loadstone.ui.web;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.BundleListener;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletAsyncSupported;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletName;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletPattern;

import com.google.gson.JsonObject;

import io.loadstone.api.runtime.ModelEvent;
import io.loadstone.api.runtime.ModelEventListener;
import io.loadstone.ui.http.EventStream;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.Servlet;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

/**
 * Fans the runtime's {@link ModelEvent}s and bundle changes out to every open page as
 * server-sent events, so a load started in one tab, a loader dropped into plugins/ or a
 * model unloaded by the API shows up everywhere at once. Connections are asynchronous (no
 * thread held per page); one sender thread writes, so a slow browser never holds up the
 * runtime's event thread.
 */
@Component(service = {Servlet.class, ModelEventListener.class, PageEvents.class})
@HttpWhiteboardServletPattern("/ui/api/events")
@HttpWhiteboardServletName("loadstone-ui-events")
@HttpWhiteboardServletAsyncSupported
public final class LiveEvents extends HttpServlet implements ModelEventListener, PageEvents {

    private static final long serialVersionUID = 1L;
    private static final Logger LOG = System.getLogger(LiveEvents.class.getName());

    private record Client(AsyncContext async, EventStream stream) {
    }

    private final transient List<Client> clients = new CopyOnWriteArrayList<>();
    private final transient ScheduledExecutorService sender = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "loadstone-ui-events");
        t.setDaemon(true);
        return t;
    });
    private transient BundleContext context;
    private final transient BundleListener bundles = this::bundleChanged;

    @Activate
    void activate(BundleContext ctx) {
        this.context = ctx;
        ctx.addBundleListener(bundles);
        // Comments every 15 s find pages that went away and keep proxies from closing idle streams.
        sender.scheduleWithFixedDelay(() -> broadcast(null, null), 15, 15, TimeUnit.SECONDS);
    }

    @Deactivate
    void deactivate() {
        context.removeBundleListener(bundles);
        sender.shutdownNow();
        for (Client c : clients) {
            close(c);
        }
        clients.clear();
    }

    int clientCount() {
        return clients.size();
    }

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        AsyncContext async = req.startAsync();
        async.setTimeout(0);
        EventStream stream = new EventStream(resp);
        Client c = new Client(async, stream);
        async.addListener(new AsyncListener() {
            @Override
            public void onComplete(AsyncEvent event) {
                clients.remove(c);
            }

            @Override
            public void onTimeout(AsyncEvent event) {
                clients.remove(c);
            }

            @Override
            public void onError(AsyncEvent event) {
                clients.remove(c);
            }

            @Override
            public void onStartAsync(AsyncEvent event) {
            }
        });
        stream.open();
        // Tells the page where to pick up: it refetches the state on every (re)connect.
        stream.send("hello", "{}");
        clients.add(c);
    }

    @Override
    public void modelEvent(ModelEvent e) {
        JsonObject o = new JsonObject();
        o.addProperty("type", e.type().name());
        o.addProperty("model", e.model());
        o.addProperty("loader", e.loader());
        o.addProperty("message", e.message());
        o.addProperty("time", e.time().toString());
        broadcast("model", o.toString());
    }

    @Override
    public void publish(String event, String data) {
        broadcast(event, data);
    }

    private void bundleChanged(BundleEvent e) {
        String type = switch (e.getType()) {
            case BundleEvent.INSTALLED -> "INSTALLED";
            case BundleEvent.STARTED -> "STARTED";
            case BundleEvent.STOPPED -> "STOPPED";
            case BundleEvent.UPDATED -> "UPDATED";
            case BundleEvent.UNINSTALLED -> "UNINSTALLED";
            case BundleEvent.RESOLVED -> "RESOLVED";
            case BundleEvent.UNRESOLVED -> "UNRESOLVED";
            default -> null;
        };
        if (type == null) {
            return;
        }
        JsonObject o = new JsonObject();
        o.addProperty("type", type);
        o.addProperty("id", e.getBundle().getBundleId());
        o.addProperty("symbolicName", e.getBundle().getSymbolicName());
        o.addProperty("version", e.getBundle().getVersion().toString());
        broadcast("bundle", o.toString());
    }

    private void broadcast(String event, String data) {
        if (sender.isShutdown()) {
            return;
        }
        try {
            sender.execute(() -> {
                for (Client c : clients) {
                    boolean ok = event == null ? c.stream.comment("keep-alive") : c.stream.send(event, data);
                    if (!ok) {
                        clients.remove(c);
                        close(c);
                    }
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            LOG.log(Level.DEBUG, "Event after shutdown dropped");
        }
    }

    private static void close(Client c) {
        try {
            c.async.complete();
        } catch (IllegalStateException e) {
            // Already completed by the container.
        }
    }
}
