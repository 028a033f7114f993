package io.loadstone.ui.server;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.servlet.runtime.HttpServiceRuntime;

import jakarta.servlet.Filter;

/**
 * Carries Loadstone's own server settings (PID {@value ServerConfig#PID}: port, listen, key)
 * over to Felix HTTP's configuration (PID {@value #FELIX_HTTP_PID}), so users configure one
 * thing, with text-generation-webui's flags, whichever HTTP implementation serves the pages.
 * Also logs the address once the server is up, because that is what a user looks for, and says so in one line
 * when the port is taken by another program (where Jetty would log a stack trace and stay down): a Loadstone
 * without its web server is of no use, so an exit request (service property {@value #EXIT_CODE}, honoured by the
 * core's process lifetime in the runnable jar) then ends the process with 1.
 */
@Component(immediate = true, configurationPid = ServerConfig.PID)
@Designate(ocd = ServerConfig.class)
public final class HttpBridge {

    private static final Logger LOG = System.getLogger(HttpBridge.class.getName());

    static final String FELIX_HTTP_PID = "org.apache.felix.http";
    static final String PORT = "org.osgi.service.http.port";
    static final String HOST = "org.apache.felix.http.host";
    static final String ENABLE = "org.apache.felix.http.enable";
    /** Felix HTTP's own default host (the launcher's 127.0.0.1) would win over a missing key: say "all" outright. */
    static final String ALL_INTERFACES = "0.0.0.0";
    /** The service property by which a part of Loadstone asks the process to end with that code. */
    static final String EXIT_CODE = "loadstone.exit.code";
    static final String EXIT_REASON = "loadstone.exit.reason";

    /** How long the port must stay taken, with no server of ours up, before it is someone else's. */
    private static final long TAKEN_MS = 2_000;
    /** How long a start may take before the check gives up (a slow start is not a taken port). */
    private static final long START_MS = 120_000;

    @Reference
    private ConfigurationAdmin configAdmin;

    @Reference
    private PageToken pageToken;

    private volatile String lastEndpoint = "";
    private volatile boolean serving;
    /** Each (re)configuration starts a new port check; an older one stops when it sees the number change. */
    private final AtomicInteger checks = new AtomicInteger();
    private BundleContext context;
    private AccessFilter filter;
    private ServiceRegistration<Filter> filterRegistration;
    private volatile ServiceRegistration<Object> exitRequest;

    @Activate
    void activate(BundleContext context, ServerConfig config) {
        this.context = context;
        Access access = Access.of(config);
        filter = new AccessFilter(access, HostCheck.of(config), pageToken);
        Dictionary<String, Object> props = new Hashtable<>();
        props.put("osgi.http.whiteboard.filter.pattern", "/*");
        props.put("osgi.http.whiteboard.filter.name", "loadstone-access");
        props.put("osgi.http.whiteboard.filter.asyncSupported", true);
        // Ahead of other filters: nothing runs for a request that is refused.
        props.put(Constants.SERVICE_RANKING, 1000);
        filterRegistration = context.registerService(Filter.class, filter, props);
        apply(config);
    }

    @Deactivate
    void deactivate() {
        checks.incrementAndGet();
        if (context.getBundle(Constants.SYSTEM_BUNDLE_ID).getState() == Bundle.STOPPING) {
            // The process ends. Config Admin keeps Felix HTTP's configuration for the next start, where an enabled
            // one would let Jetty bind (and log a stack trace on a taken port) before this bridge has looked at
            // the port; the next start enables it again. Not on a mere update of this bundle: Jetty keeps serving.
            disableUntilNextStart();
        }
        for (ServiceRegistration<?> r : new ServiceRegistration<?>[] { filterRegistration, exitRequest }) {
            try {
                if (r != null) {
                    r.unregister();
                }
            } catch (IllegalStateException e) {
                // Already gone with the bundle.
            }
        }
    }

    @Modified
    void apply(ServerConfig config) {
        Access access = Access.of(config);
        filter.update(access, HostCheck.of(config));
        if (access.problem() != null) {
            LOG.log(Level.ERROR, access.problem());
        } else if (access.host() == null && !access.keyRequired()) {
            LOG.log(Level.WARNING, "Listening on all interfaces WITHOUT an API key (--no-auth): anyone who can reach "
                    + "port " + access.port() + " can load models and install plugins.");
        }
        int check = checks.incrementAndGet();
        Thread.ofVirtual().name("loadstone-http-start").start(() -> start(check, access));
    }

    /**
     * Configures Felix HTTP unless another program holds the port (then Jetty would only log a stack trace), and
     * watches its start: Jetty may have started from the configuration saved by an earlier run before this
     * bridge, or lost a race for the port. Probes connect (to this machine only), never bind: a probe bind could
     * take the port from the server starting at that moment.
     */
    private void start(int check, Access access) {
        try {
            boolean probe = access.port() != 0;
            if (probe && !serving && answers(access) && taken(check, access, TAKEN_MS + 1_000)) {
                portTaken(access.port());
                return;
            }
            if (checks.get() != check) {
                return;
            }
            configure(access);
            if (probe && taken(check, access, START_MS)) {
                portTaken(access.port());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void configure(Access access) {
        try {
            Configuration c = configAdmin.getConfiguration(FELIX_HTTP_PID, "?");
            Dictionary<String, Object> props = c.getProperties() == null ? new Hashtable<>() : c.getProperties();
            props.put(PORT, access.port());
            props.put(HOST, access.host() == null ? ALL_INTERFACES : access.host());
            props.put(ENABLE, true);
            props.put("org.apache.felix.http.jetty.sendServerHeader", false);
            // Non-streamed completions on a slow model can take minutes without a byte on the wire.
            props.put("org.apache.felix.http.timeout", 600_000);
            c.updateIfDifferent(props);
        } catch (IOException e) {
            LOG.log(Level.ERROR, "Cannot configure the HTTP server (" + FELIX_HTTP_PID + "): " + e.getMessage());
        }
    }

    private void disableUntilNextStart() {
        try {
            Configuration c = configAdmin.getConfiguration(FELIX_HTTP_PID, "?");
            Dictionary<String, Object> props = c.getProperties();
            if (props != null) {
                props.put(ENABLE, false);
                c.updateIfDifferent(props);
            }
        } catch (IOException | IllegalStateException e) {
            LOG.log(Level.DEBUG, "Felix HTTP stays enabled for the next start: " + e.getMessage());
        }
    }

    /**
     * Whether another program holds the port: it answers for {@value #TAKEN_MS} ms on end while no server of
     * ours is up. False as soon as ours is up, after {@code patienceMs}, or when a newer configuration replaces
     * this one.
     */
    private boolean taken(int check, Access access, long patienceMs) throws InterruptedException {
        long start = System.nanoTime();
        long takenSince = -1;
        while (checks.get() == check && !serving) {
            long now = System.nanoTime();
            if (now - start > TimeUnit.MILLISECONDS.toNanos(patienceMs)) {
                return false;
            }
            if (!answers(access)) {
                takenSince = -1;
            } else if (takenSince < 0) {
                takenSince = now;
            } else if (now - takenSince > TimeUnit.MILLISECONDS.toNanos(TAKEN_MS)) {
                return true;
            }
            Thread.sleep(250);
        }
        return false;
    }

    private static boolean answers(Access access) {
        String host = access.host() == null ? Access.LOCALHOST : access.host();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, access.port()), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private void portTaken(int port) {
        String line = "port " + port + " is in use \u2014 another Loadstone or text-generation-webui? start with --port N";
        LOG.log(Level.ERROR, line);
        Dictionary<String, Object> props = new Hashtable<>();
        props.put(EXIT_CODE, 1);
        props.put(EXIT_REASON, line);
        try {
            exitRequest = context.registerService(Object.class, new Object(), props);
        } catch (IllegalStateException e) {
            // The bundle is stopping anyway.
        }
    }

    @Reference(service = HttpServiceRuntime.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC)
    void addRuntime(HttpServiceRuntime runtime, Map<String, Object> props) {
        announce(props);
    }

    void updatedRuntime(HttpServiceRuntime runtime, Map<String, Object> props) {
        announce(props);
    }

    void removeRuntime(HttpServiceRuntime runtime) {
        lastEndpoint = "";
        serving = false;
    }

    private void announce(Map<String, Object> props) {
        Object ep = props.get("osgi.http.endpoint");
        serving = ep != null;
        String endpoint = ep instanceof String[] a ? String.join(", ", a) : ep instanceof Iterable<?> it
                ? String.join(", ", java.util.stream.StreamSupport.stream(it.spliterator(), false)
                        .map(String::valueOf).toList()) : String.valueOf(ep);
        if (ep != null && !endpoint.equals(lastEndpoint)) {
            lastEndpoint = endpoint;
            LOG.log(Level.INFO, "Loadstone web UI and OpenAI-compatible API: " + endpoint + " (API under /v1)");
        }
    }
}
