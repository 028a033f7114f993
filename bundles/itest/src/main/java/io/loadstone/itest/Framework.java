package io.loadstone.itest;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.FrameworkUtil;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.util.tracker.ServiceTracker;

/** What the tests need from the running framework: bundles, services, configuration, waiting. */
final class Framework {

    private Framework() {
    }

    static BundleContext context() {
        return FrameworkUtil.getBundle(Framework.class).getBundleContext();
    }

    /** A jar the build copied for the tests to install (target/itest-bundles). */
    static Path testBundle(String fileName) {
        Path p = Paths.get(System.getProperty("loadstone.itest.bundles", context().getProperty(
                "loadstone.itest.bundles"))).resolve(fileName);
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException("Missing test bundle " + p + " (built by the itest module's pom)");
        }
        return p;
    }

    /** A fresh folder under target/itest-work. */
    static Path workDir(String name) throws IOException {
        Path base = Paths.get(context().getProperty("loadstone.itest.work"));
        Path dir = base.resolve(name + "-" + System.nanoTime());
        Files.createDirectories(dir);
        return dir;
    }

    /** The one registered loader service with {@code id} ({@code loadstone.loader.id}). */
    static io.loadstone.api.loader.ModelLoader loader(String id) throws Exception {
        var refs = context().getServiceReferences(io.loadstone.api.loader.ModelLoader.class,
                "(" + io.loadstone.api.loader.ModelLoader.LOADER_ID + "=" + id + ")");
        org.junit.jupiter.api.Assertions.assertEquals(1, refs.size(), "one " + id + " loader service");
        return context().getService(refs.iterator().next());
    }

    static Bundle install(Path jar) throws IOException, BundleException {
        try (InputStream in = Files.newInputStream(jar)) {
            return context().installBundle("itest:" + jar.getFileName() + ":" + System.nanoTime(), in);
        }
    }

    static Bundle bundle(String symbolicName) {
        for (Bundle b : context().getBundles()) {
            if (symbolicName.equals(b.getSymbolicName())) {
                return b;
            }
        }
        return null;
    }

    /**
     * Waits for a service and gets it for the test bundle. Not released on purpose: some
     * services (Config Admin) are per-bundle factories that die with the last release.
     */
    static <T> T service(Class<T> type, Duration timeout) throws InterruptedException {
        ServiceTracker<T, T> t = new ServiceTracker<>(context(), type, null);
        t.open();
        try {
            if (t.waitForService(timeout.toMillis()) == null) {
                throw new AssertionError("No " + type.getName() + " service within " + timeout);
            }
            return context().getService(t.getServiceReference());
        } finally {
            t.close();
        }
    }

    static void configure(String pid, Dictionary<String, Object> props) throws Exception {
        ConfigurationAdmin ca = service(ConfigurationAdmin.class, Duration.ofSeconds(10));
        Configuration c = ca.getConfiguration(pid, "?");
        c.update(props);
    }

    static Dictionary<String, Object> props(Object... kv) {
        Hashtable<String, Object> d = new Hashtable<>();
        for (int i = 0; i < kv.length; i += 2) {
            d.put((String) kv[i], kv[i + 1]);
        }
        return d;
    }

    /**
     * Points the runtime at {@code models} (unloading what is loaded) and waits until it
     * lists that folder.
     */
    static io.loadstone.api.runtime.ModelManager useModels(Path models, Object... moreConfig) throws Exception {
        var manager = service(io.loadstone.api.runtime.ModelManager.class, Duration.ofSeconds(20));
        for (var s : manager.loaded()) {
            manager.unload(s.name());
        }
        Object[] kv = new Object[2 + moreConfig.length];
        kv[0] = "models.dir";
        kv[1] = models.toString();
        System.arraycopy(moreConfig, 0, kv, 2, moreConfig.length);
        configure("io.loadstone.core", props(kv));
        await("models folder configured (is " + manager.modelsDir() + ", want " + models + ")", Duration.ofSeconds(
                20), () -> manager.modelsDir().equals(models));
        return manager;
    }

    /** Installs and starts the test-only echo loader and waits until the runtime has it. */
    static Bundle startEchoLoader(io.loadstone.api.runtime.ModelManager manager) throws Exception {
        Bundle echo = install(testBundle("itest-loader.jar"));
        echo.start();
        await("echo loader discovered", Duration.ofSeconds(20), () -> manager.loaders().stream()
                .anyMatch(l -> l.id().equals("itest-echo")));
        return echo;
    }

    /** Bundles, states and package wiring of the configuration API, for failure messages. */
    static String diagnose() {
        StringBuilder sb = new StringBuilder();
        for (Bundle b : context().getBundles()) {
            sb.append(b.getBundleId()).append(' ').append(b.getSymbolicName()).append(' ').append(b.getVersion())
                    .append(" state=").append(b.getState());
            var w = b.adapt(org.osgi.framework.wiring.BundleWiring.class);
            if (w != null) {
                for (var wire : w.getRequiredWires("osgi.wiring.package")) {
                    Object pkg = wire.getCapability().getAttributes().get("osgi.wiring.package");
                    if (String.valueOf(pkg).startsWith("org.osgi.service.cm")) {
                        sb.append(" cm<-").append(wire.getProvider().getSymbolicName());
                    }
                }
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** Polls until the condition holds; fails with {@code what} after the timeout. */
    static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("Timed out after " + timeout + " waiting for: " + what);
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
    }
}
