package io.loadstone.core.launch;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.Map;

import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * Turns the runnable jar's command line ({@code --models DIR --port N ...}, the flags
 * text-generation-webui users know) into Config Admin configuration, so every component
 * is configured one way whether the value came from the command line, a .cfg file in the
 * plugins folder, or the web UI.
 *
 * <p>The bnd launcher publishes its arguments as the {@code launcher.arguments} property
 * of a service; in other launchers this component simply never activates.
 */
@Component(immediate = true)
public final class LaunchArguments {

    private static final Logger LOG = System.getLogger(LaunchArguments.class.getName());

    static final String CORE_PID = "io.loadstone.core";
    static final String SERVER_PID = "io.loadstone.server";

    /** Optional so that the resolver does not demand a provider; greedy so that it is bound when it comes. */
    @Reference(service = Object.class, target = "(launcher.arguments=*)", cardinality = ReferenceCardinality.OPTIONAL,
            policyOption = ReferencePolicyOption.GREEDY)
    private Map<String, Object> launcher;

    @Reference
    private ConfigurationAdmin configAdmin;

    @Activate
    void activate() {
        if (launcher == null) {
            return;
        }
        Object raw = launcher.get("launcher.arguments");
        String[] args = raw instanceof String[] a ? a : new String[0];
        Map<String, Map<String, Object>> byPid;
        try {
            byPid = parse(args);
        } catch (IllegalArgumentException e) {
            LOG.log(Level.ERROR, e.getMessage());
            return;
        }
        for (Map.Entry<String, Map<String, Object>> e : byPid.entrySet()) {
            try {
                Configuration c = configAdmin.getConfiguration(e.getKey(), "?");
                Dictionary<String, Object> props = c.getProperties() == null ? new Hashtable<>() : c.getProperties();
                e.getValue().forEach(props::put);
                c.updateIfDifferent(props);
            } catch (IOException ex) {
                LOG.log(Level.ERROR, "Cannot apply command-line settings for " + e.getKey() + ": " + ex.getMessage());
            }
        }
    }

    /**
     * Maps flags to configuration properties by PID.
     *
     * @throws IllegalArgumentException naming an unknown flag or a missing value
     */
    public static Map<String, Map<String, Object>> parse(String[] args) {
        Map<String, Map<String, Object>> out = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                value = a.substring(eq + 1);
                a = a.substring(0, eq);
            }
            switch (a) {
                case "--listen" -> put(out, SERVER_PID, "listen", true);
                case "--models", "--model-dir" -> put(out, CORE_PID, "models.dir", value != null ? value
                        : next(args, ++i, a));
                case "--loras", "--lora-dir" -> put(out, CORE_PID, "loras.dir", value != null ? value
                        : next(args, ++i, a));
                case "--model" -> put(out, CORE_PID, "model", value != null ? value : next(args, ++i, a));
                case "--port" -> {
                    String v = value != null ? value : next(args, ++i, a);
                    try {
                        int port = Integer.parseInt(v);
                        if (port < 0 || port > 65535) {
                            throw new NumberFormatException();
                        }
                        put(out, SERVER_PID, "port", port);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--port needs a number from 0 to 65535, not '" + v + "'.");
                    }
                }
                case "--api-key" -> put(out, SERVER_PID, "api.key", value != null ? value : next(args, ++i, a));
                case "--no-auth" -> put(out, SERVER_PID, "allow.no.auth", true);
                default -> throw new IllegalArgumentException("Unknown option '" + args[i] + "'. Known: --models DIR, "
                        + "--loras DIR, --model NAME, --port N, --listen, --api-key KEY, --no-auth.");
            }
        }
        return out;
    }

    private static String next(String[] args, int i, String flag) {
        if (i >= args.length || args[i].startsWith("--")) {
            throw new IllegalArgumentException(flag + " needs a value.");
        }
        return args[i];
    }

    private static void put(Map<String, Map<String, Object>> out, String pid, String key, Object value) {
        out.computeIfAbsent(pid, k -> new LinkedHashMap<>()).put(key, value);
    }
}
