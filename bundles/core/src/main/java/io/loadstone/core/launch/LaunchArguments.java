package io.loadstone.core.launch;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.Map;

import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import io.loadstone.launcher.flags.Flags;

/**
 * Turns the runnable jar's command line ({@code --models DIR --port N ...}, the flags
 * text-generation-webui users know, declared in {@link Flags}) into Config Admin configuration, so every component
 * is configured one way whether the value came from the command line, a .cfg file in the
 * plugins folder, or the web UI. A flag sets the one key it names; the rest of a saved configuration stays.
 *
 * <p>The bnd launcher publishes its arguments as the {@code launcher.arguments} property
 * of a service; in other launchers this component simply never activates.
 */
@Component(immediate = true)
public final class LaunchArguments {

    private static final Logger LOG = System.getLogger(LaunchArguments.class.getName());

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
            byPid = Flags.parse(args).config();
        } catch (IllegalArgumentException e) {
            // Loadstone's own launcher (io.loadstone.launcher.Main) refused this before OSGi started; another
            // launcher gets the reason here, and no half-applied command line.
            LOG.log(Level.ERROR, "Command line ignored: " + e.getMessage());
            return;
        }
        for (Map.Entry<String, Map<String, Object>> e : byPid.entrySet()) {
            try {
                Configuration c = configAdmin.getConfiguration(e.getKey(), "?");
                // Only the keys the flags name: Autoload and whatever else the web UI saved stay as they are.
                Dictionary<String, Object> props = c.getProperties() == null ? new Hashtable<>() : c.getProperties();
                e.getValue().forEach(props::put);
                c.updateIfDifferent(props);
            } catch (IOException ex) {
                LOG.log(Level.ERROR, "Cannot apply command-line settings for " + e.getKey() + ": " + ex.getMessage());
            }
        }
    }
}
