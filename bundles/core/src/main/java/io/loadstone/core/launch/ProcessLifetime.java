package io.loadstone.core.launch;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;

import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * How the Loadstone process ends, when it runs as its own process (the exported jar). bnd's launcher runs a
 * {@code Callable<Integer>} registered with {@code main.thread=true} on the JVM's main thread, then stops the
 * framework and exits with what it returned; this component is that callable. It returns
 * <ul>
 * <li>0 on SIGTERM or SIGINT (systemd's stop, Ctrl-C): the framework then stops in order, so every component
 * deactivates and loaded models are closed, instead of the JVM dying mid-way with 143;</li>
 * <li>the code of an exit request: any service with the property {@value #EXIT_CODE} (an Integer) and a reason
 * in {@value #EXIT_REASON}, registered by a part that cannot work (the web server whose port is taken). Such
 * parts need no Loadstone type for it, as bnd's own {@code main.thread} protocol needs none.</li>
 * </ul>
 * A second signal while stopping ends the process at once.
 *
 * <p>Only where the framework property {@value #ENABLE} is {@code true} (the distribution's bndrun): a test
 * framework has its own main thread and must keep it.
 */
@Component(immediate = true, service = {})
public final class ProcessLifetime implements Callable<Integer> {

    private static final Logger LOG = System.getLogger(ProcessLifetime.class.getName());

    /** Framework property that lets this component own the main thread. */
    public static final String ENABLE = "loadstone.main.thread";
    /** Service property of an exit request: the process's exit code. */
    public static final String EXIT_CODE = "loadstone.exit.code";
    /** Service property of an exit request: why, for the log. */
    public static final String EXIT_REASON = "loadstone.exit.reason";

    private static final List<String> SIGNALS = List.of("TERM", "INT");

    private final CompletableFuture<Integer> exit = new CompletableFuture<>();
    private final List<Runnable> restore = new ArrayList<>();
    private ServiceRegistration<?> registration;

    @Activate
    void activate(BundleContext context) {
        if (!Boolean.parseBoolean(context.getProperty(ENABLE))) {
            return;
        }
        for (String name : SIGNALS) {
            try {
                Signal signal = new Signal(name);
                SignalHandler previous = Signal.handle(signal, this::onSignal);
                restore.add(() -> Signal.handle(signal, previous));
            } catch (IllegalArgumentException e) {
                // Reserved by the JVM (-Xrs) or unknown on this OS: the JVM's own handling stays.
                LOG.log(Level.DEBUG, "SIG" + name + " stays the JVM's: " + e.getMessage());
            }
        }
        Hashtable<String, Object> props = new Hashtable<>();
        props.put("main.thread", true);
        registration = context.registerService(Callable.class.getName(), this, props);
    }

    @Deactivate
    void deactivate() {
        // Not completing 'exit' here: a stop from the shell ('stop 0') ends through bnd's framework-stopped path.
        restore.forEach(Runnable::run);
        restore.clear();
        if (registration != null) {
            try {
                registration.unregister();
            } catch (IllegalStateException e) {
                // Already gone with the bundle.
            }
            registration = null;
        }
    }

    /** The main thread waits here until the process should end. */
    @Override
    public Integer call() throws Exception {
        int code = exit.get();
        LOG.log(Level.INFO, "Stopping Loadstone (exit code " + code + ")");
        return code;
    }

    @Reference(service = Object.class, target = "(" + EXIT_CODE + "=*)", cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC)
    void addExitRequest(Map<String, Object> props) {
        Object code = props.get(EXIT_CODE);
        int c = code instanceof Number n ? n.intValue() : 1;
        LOG.log(Level.DEBUG, "Exit " + c + " requested: " + props.get(EXIT_REASON));
        exit.complete(c);
    }

    void removeExitRequest(Map<String, Object> props) {
        // A request stands once made.
    }

    private void onSignal(Signal signal) {
        if (exit.isDone()) {
            // Asked twice: the orderly stop hangs or the user wants out now.
            Runtime.getRuntime().halt(128 + signal.getNumber());
        }
        LOG.log(Level.INFO, "SIG" + signal.getName() + ": stopping, closing loaded models");
        exit.complete(0);
    }
}
