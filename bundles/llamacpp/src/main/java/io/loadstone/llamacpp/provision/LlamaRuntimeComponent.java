package io.loadstone.llamacpp.provision;

import io.loadstone.natives.CopyPolicy;
import io.loadstone.natives.NativeFragment;
import io.loadstone.natives.NativeFragments;
import io.loadstone.natives.Platform;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Hashtable;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.LlamaRuntime;
import io.loadstone.llamacpp.binding.NativeBindings;
import io.loadstone.llamacpp.runner.RunnerLaunch;
import io.loadstone.llamacpp.runner.RunnerRuntime;

/**
 * Registers the {@link LlamaRuntime} service for the library of the attached fragment, with
 * every model in its own runner process (so that a native crash ends one model, never the
 * server); without a usable fragment it registers nothing and says which fragment to install.
 *
 * <p>It registers the service itself (instead of declaring it to DS) because whether
 * there is a service at all depends on what is attached, which DS cannot express. The
 * runners live at most as long as this component: deactivation unregisters the service
 * (DS then deactivates the loaders that need it, which close their models), and only
 * then ends any runner still running. This process never loads the library itself, so
 * there is nothing to dlclose on a native hot-swap.
 */
@Component(immediate = true, configurationPid = LlamaRuntimeComponent.PID)
public class LlamaRuntimeComponent {

    /** Configuration PID; a {@code io.loadstone.llamacpp.cfg} in plugins/ sets it like any other. */
    public static final String PID = "io.loadstone.llamacpp";

    /** Configuration of PID {@value #PID}. */
    @interface Config {
        /**
         * {@code in.process=true} runs llama.cpp inside the server as before the runner existed: a
         * bad file can then abort the whole server. Per-token round trips to a runner cost
         * measurably on tiny models only (stories260K); off by default.
         */
        boolean in_process() default false;

        /**
         * Which llama.cpp build to use when fragments of several are attached, e.g.
         * {@code llama.cpp-b4916}; empty (the default) or a build that is not attached: the newest
         * one this bundle has a binding for.
         */
        String build() default "";
    }

    private static final System.Logger LOG = System.getLogger(LlamaRuntimeComponent.class.getName());

    /** What ends the runtime: the runner runtime, or the library loaded in this process. */
    private AutoCloseable owner;
    private ServiceRegistration<LlamaRuntime> registration;

    @Activate
    void activate(BundleContext context, Config config) {
        List<NativeFragment> fragments = NativeFragments.attached(context.getBundle());
        if (fragments.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "No llama.cpp native library for this platform (" + Platform.current()
                    + ") is attached to " + context.getBundle().getSymbolicName() + ": install the fragment "
                    + Platform.fragmentName("io.loadstone.llamacpp-") + " and refresh " + context.getBundle().getSymbolicName()
                    + ". The llama.cpp runtime stays unavailable until then.");
            return;
        }
        Set<String> present = new TreeSet<>();
        fragments.forEach(f -> present.add(f.build()));
        Set<String> supported = LlamaLibrary.supportedBuilds();
        String build = NativeBindings.preferred(present, config.build()).orElse(null);
        NativeFragment chosen = fragments.stream().filter(f -> f.build().equals(build)).findFirst().orElse(null);
        if (chosen == null) {
            LOG.log(System.Logger.Level.ERROR, "The attached native fragment(s) "
                    + fragments.stream().map(NativeFragment::describe).toList() + " carry llama.cpp builds this "
                    + context.getBundle().getSymbolicName() + " " + context.getBundle().getVersion()
                    + " has no binding for (it supports " + supported + "). Install a matching fragment or a "
                    + "newer " + context.getBundle().getSymbolicName() + ".");
            return;
        }
        if (!config.build().isBlank() && !config.build().trim().equals(build)) {
            LOG.log(System.Logger.Level.WARNING, "build=" + config.build() + " (PID " + PID + ") is not among the "
                    + "attached llama.cpp builds " + present + "; using " + build + ".");
        }
        if (fragments.size() > 1) {
            LOG.log(System.Logger.Level.INFO, "Several native fragments are attached "
                    + fragments.stream().map(NativeFragment::describe).toList() + "; using " + chosen.describe());
        }
        LlamaRuntime runtime;
        String how;
        try {
            Path copy = NativeFragments.privateCopy(context, chosen, CopyPolicy.REUSE_IDENTICAL).get(0);
            if (config.in_process()) {
                LlamaLibrary library = LlamaLibrary.load(copy, chosen.build());
                owner = library;
                runtime = library.runtime();
                how = "in this process (in.process=true: a crash in llama.cpp ends the server)";
            } else {
                Path work = context.getDataFile("runner").toPath();
                RunnerRuntime runner = RunnerRuntime.start(new RunnerLaunch(RunnerLaunch.currentJava(),
                        RunnerJar.write(context.getBundle(), work), copy, chosen.build(), work,
                        RunnerLaunch.DEFAULT_JVM_OPTIONS));
                owner = runner;
                runtime = runner;
                how = "each model in its own process (start-up " + runner.startupNanos() / 1_000_000 + " ms)";
            }
        } catch (IOException | LlamaException e) {
            LOG.log(System.Logger.Level.ERROR, "Cannot start llama.cpp with the library of " + chosen.describe()
                    + ": " + e.getMessage(), e);
            return;
        }
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(LlamaRuntime.BUILD, runtime.buildName());
        props.put(LlamaRuntime.PLATFORM, chosen.platform().isEmpty() ? Platform.current() : chosen.platform());
        props.put("loadstone.llamacpp.fragment", chosen.bundle().getSymbolicName());
        props.put("loadstone.llamacpp.gpu", runtime.supportsGpuOffload());
        props.put(Constants.SERVICE_DESCRIPTION, "llama.cpp " + runtime.buildName() + " from " + chosen.describe());
        registration = context.registerService(LlamaRuntime.class, runtime, props);
        LOG.log(System.Logger.Level.INFO, "llama.cpp runtime " + runtime.buildName() + " ready from "
                + chosen.describe() + ", " + how);
    }

    @Deactivate
    void deactivate() {
        if (registration != null) {
            try {
                registration.unregister();
            } catch (IllegalStateException alreadyGone) {
                // The framework unregistered it while stopping the bundle.
            }
            registration = null;
        }
        if (owner != null) {
            try {
                owner.close(); // ends every runner process, so none outlives this bundle
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "Closing the llama.cpp runtime: " + e, e);
            }
            owner = null;
        }
    }
}
