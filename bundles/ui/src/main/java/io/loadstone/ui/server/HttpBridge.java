package io.loadstone.ui.server;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.Map;

import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.framework.BundleContext;
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
 * Also logs the address once the server is up, because that is what a user looks for.
 */
@Component(immediate = true, configurationPid = ServerConfig.PID)
@Designate(ocd = ServerConfig.class)
public final class HttpBridge {

    private static final Logger LOG = System.getLogger(HttpBridge.class.getName());

    static final String FELIX_HTTP_PID = "org.apache.felix.http";
    static final String PORT = "org.osgi.service.http.port";
    static final String HOST = "org.apache.felix.http.host";

    @Reference
    private ConfigurationAdmin configAdmin;

    @Reference
    private PageToken pageToken;

    private volatile String lastEndpoint = "";
    private AccessFilter filter;
    private ServiceRegistration<Filter> filterRegistration;

    @Activate
    void activate(BundleContext context, ServerConfig config) {
        Access access = Access.of(config);
        filter = new AccessFilter(access, HostCheck.of(config), pageToken);
        Dictionary<String, Object> props = new Hashtable<>();
        props.put("osgi.http.whiteboard.filter.pattern", "/*");
        props.put("osgi.http.whiteboard.filter.name", "loadstone-access");
        props.put("osgi.http.whiteboard.filter.asyncSupported", true);
        // Ahead of other filters: nothing runs for a request that is refused.
        props.put(org.osgi.framework.Constants.SERVICE_RANKING, 1000);
        filterRegistration = context.registerService(Filter.class, filter, props);
        apply(config);
    }

    @Deactivate
    void deactivate() {
        try {
            filterRegistration.unregister();
        } catch (IllegalStateException e) {
            // Already gone with the bundle.
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
        try {
            Configuration c = configAdmin.getConfiguration(FELIX_HTTP_PID, "?");
            Dictionary<String, Object> props = c.getProperties() == null ? new Hashtable<>() : c.getProperties();
            props.put(PORT, access.port());
            if (access.host() == null) {
                props.remove(HOST);
            } else {
                props.put(HOST, access.host());
            }
            props.put("org.apache.felix.http.enable", true);
            props.put("org.apache.felix.http.jetty.sendServerHeader", false);
            // Non-streamed completions on a slow model can take minutes without a byte on the wire.
            props.put("org.apache.felix.http.timeout", 600_000);
            c.updateIfDifferent(props);
        } catch (IOException e) {
            LOG.log(Level.ERROR, "Cannot configure the HTTP server (" + FELIX_HTTP_PID + "): " + e.getMessage());
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
    }

    private void announce(Map<String, Object> props) {
        Object ep = props.get("osgi.http.endpoint");
        String endpoint = ep instanceof String[] a ? String.join(", ", a) : ep instanceof Iterable<?> it
                ? String.join(", ", java.util.stream.StreamSupport.stream(it.spliterator(), false)
                        .map(String::valueOf).toList()) : String.valueOf(ep);
        if (ep != null && !endpoint.equals(lastEndpoint)) {
            lastEndpoint = endpoint;
            LOG.log(Level.INFO, "Loadstone web UI and OpenAI-compatible API: " + endpoint + " (API under /v1)");
        }
    }
}
