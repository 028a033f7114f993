package io.loadstone.ui.web;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarInputStream;
import java.util.jar.Manifest;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.startlevel.BundleStartLevel;
import org.osgi.framework.startlevel.FrameworkStartLevel;
import org.osgi.framework.wiring.FrameworkWiring;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.ui.http.ApiException;

/**
 * The Plugins tab's work: list bundles, install or update an uploaded jar, start, stop,
 * uninstall. When the watched plugins folder (Felix File Install) is in use, uploads are
 * written there so they survive a restart, and removals delete the file, so the folder and
 * the running system never disagree.
 */
@Component(service = Plugins.class)
public final class Plugins {

    private static final Logger LOG = System.getLogger(Plugins.class.getName());
    private static final String FILEINSTALL = "org.apache.felix.fileinstall";
    /** What the runtime stands on: changing these from a web page would cut the branch it sits on. */
    private static final Set<String> CORE = Set.of("io.loadstone.api", "io.loadstone.core", "io.loadstone.ui");

    @Reference
    private ModelManager manager;

    private BundleContext context;

    @Activate
    void activate(BundleContext ctx) {
        this.context = ctx;
    }

    /** The watched plugins folder, when File Install runs; else null. */
    Path pluginsDir() {
        String dir = context.getProperty("felix.fileinstall.dir");
        if (dir == null || dir.isBlank()) {
            return null;
        }
        for (Bundle b : context.getBundles()) {
            if (FILEINSTALL.equals(b.getSymbolicName()) && b.getState() == Bundle.ACTIVE) {
                return Paths.get(dir.split(",")[0].trim()).toAbsolutePath().normalize();
            }
        }
        return null;
    }

    JsonObject list() {
        List<LoaderInfo> loaders = manager.loaders();
        Path plugins = pluginsDir();
        JsonArray out = new JsonArray();
        for (Bundle b : context.getBundles()) {
            out.add(describe(b, loaders, plugins));
        }
        JsonObject o = new JsonObject();
        o.add("bundles", out);
        o.addProperty("pluginsDir", plugins == null ? null : plugins.toString());
        return o;
    }

    private JsonObject describe(Bundle b, List<LoaderInfo> loaders, Path plugins) {
        String bsn = b.getSymbolicName() == null ? "" : b.getSymbolicName();
        JsonObject x = new JsonObject();
        x.addProperty("id", b.getBundleId());
        x.addProperty("symbolicName", bsn);
        x.addProperty("name", header(b, Constants.BUNDLE_NAME, bsn));
        x.addProperty("description", header(b, Constants.BUNDLE_DESCRIPTION, ""));
        x.addProperty("version", b.getVersion().toString());
        x.addProperty("state", state(b.getState()));
        x.addProperty("fragment", b.getHeaders("").get(Constants.FRAGMENT_HOST) != null);
        JsonArray ids = new JsonArray();
        loaders.stream().filter(l -> l.bundle().equals(bsn)).forEach(l -> ids.add(l.id()));
        x.add("loaders", ids);
        Path file = pluginFile(b, plugins);
        x.addProperty("inPluginsFolder", file != null);
        String category = !ids.isEmpty() ? "loader" : bsn.startsWith("io.loadstone.") ? "loadstone"
                : file != null ? "plugin" : "framework";
        x.addProperty("category", category);
        x.addProperty("manageable", manageable(b, file));
        return x;
    }

    private static String header(Bundle b, String name, String dflt) {
        String v = b.getHeaders("").get(name);
        return v == null ? dflt : v;
    }

    private boolean manageable(Bundle b, Path file) {
        String bsn = b.getSymbolicName() == null ? "" : b.getSymbolicName();
        if (b.getBundleId() == 0 || CORE.contains(bsn) || requiredByCore(b)) {
            return false;
        }
        return file != null || bsn.startsWith("io.loadstone.") || b.getLocation().startsWith(UPLOAD)
                || manager.loaders().stream().anyMatch(l -> l.bundle().equals(bsn));
    }

    private static final String UPLOAD = "loadstone:upload:";

    /** True when the runtime itself is wired to this bundle (a library such as the GGUF reader). */
    private boolean requiredByCore(Bundle b) {
        for (Bundle c : context.getBundles()) {
            if (c.getSymbolicName() == null || !CORE.contains(c.getSymbolicName())) {
                continue;
            }
            var wiring = c.adapt(org.osgi.framework.wiring.BundleWiring.class);
            if (wiring == null) {
                continue;
            }
            for (var wire : wiring.getRequiredWires(null)) {
                if (wire.getProvider().getBundle().equals(b)) {
                    return true;
                }
            }
        }
        return false;
    }

    static String state(int s) {
        return switch (s) {
            case Bundle.ACTIVE -> "ACTIVE";
            case Bundle.RESOLVED -> "RESOLVED";
            case Bundle.INSTALLED -> "INSTALLED";
            case Bundle.STARTING -> "STARTING";
            case Bundle.STOPPING -> "STOPPING";
            default -> "UNINSTALLED";
        };
    }

    /** The jar in the plugins folder this bundle was installed from, or null. */
    private static Path pluginFile(Bundle b, Path plugins) {
        if (plugins == null) {
            return null;
        }
        String loc = b.getLocation();
        if (!loc.startsWith("file:")) {
            return null;
        }
        try {
            Path p = Paths.get(URI.create(loc)).toAbsolutePath().normalize();
            return plugins.equals(p.getParent()) ? p : null;
        } catch (IllegalArgumentException | java.nio.file.FileSystemNotFoundException e) {
            return null;
        }
    }

    private Bundle bundle(long id) throws ApiException {
        Bundle b = context.getBundle(id);
        if (b == null || b.getState() == Bundle.UNINSTALLED) {
            throw ApiException.notFound("bundle_not_found", "There is no bundle with id " + id + ".");
        }
        return b;
    }

    private Bundle managed(long id) throws ApiException {
        Bundle b = bundle(id);
        if (!manageable(b, pluginFile(b, pluginsDir()))) {
            throw ApiException.badRequest("id", "protected_bundle", b.getSymbolicName() + " is part of the runtime "
                    + "and cannot be changed from the web page.");
        }
        return b;
    }

    /** Installs or updates the uploaded jar and starts it. Returns a message for the status line. */
    String install(byte[] jar, String fileName) throws ApiException {
        Manifest mf;
        try (JarInputStream in = new JarInputStream(new ByteArrayInputStream(jar))) {
            mf = in.getManifest();
        } catch (IOException e) {
            throw ApiException.badRequest("file", "not_a_jar", "'" + fileName + "' is not a jar file: " + e.getMessage());
        }
        String bsnHeader = mf == null ? null : mf.getMainAttributes().getValue(Constants.BUNDLE_SYMBOLICNAME);
        if (bsnHeader == null || bsnHeader.isBlank()) {
            throw ApiException.badRequest("file", "not_a_bundle", "'" + fileName + "' is not an OSGi bundle (its "
                    + "manifest has no Bundle-SymbolicName). Loader plugins are bundles built against the Loadstone "
                    + "API.");
        }
        String bsn = bsnHeader.split(";")[0].trim();
        String version = mf.getMainAttributes().getValue(Constants.BUNDLE_VERSION);
        if (CORE.contains(bsn)) {
            throw ApiException.badRequest("file", "protected_bundle", bsn + " is part of the runtime and cannot be "
                    + "replaced from the web page; rebuild the distribution instead.");
        }
        Bundle existing = find(bsn);
        Path plugins = pluginsDir();
        Path existingFile = existing == null ? null : pluginFile(existing, plugins);
        try {
            if (plugins != null && (existing == null || existingFile != null)) {
                Path target = existingFile != null ? existingFile : newFile(plugins, fileName, bsn, version);
                long before = existing == null ? -1 : existing.getLastModified();
                write(target, jar);
                Bundle b = awaitFileInstall(bsn, before);
                String message = result(b, bsn, existing != null, "plugins/" + target.getFileName());
                return message + startDependents();
            }
            Bundle b;
            if (existing != null) {
                existing.update(new ByteArrayInputStream(jar));
                refresh(List.of(existing));
                b = existing;
            } else {
                b = context.installBundle(UPLOAD + bsn + ":" + System.currentTimeMillis(),
                        new ByteArrayInputStream(jar));
            }
            startIfHost(b);
            return result(b, bsn, existing != null, null) + startDependents();
        } catch (BundleException e) {
            throw ApiException.badRequest("file", "install_failed", "Could not install " + bsn + ": "
                    + e.getMessage());
        } catch (IOException e) {
            throw new ApiException(500, "server_error", "install_failed", null, "Could not write " + bsn
                    + " to the plugins folder: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiException(503, "server_error", "interrupted", null, "Interrupted while installing.");
        }
    }

    private static String result(Bundle b, String bsn, boolean update, String file) throws ApiException {
        String where = file == null ? "" : " (" + file + ")";
        if (b == null) {
            return (update ? "Updated " : "Wrote ") + bsn + where + "; the plugins folder watcher has not picked it up "
                    + "yet.";
        }
        if (b.getState() != Bundle.ACTIVE && b.getHeaders("").get(Constants.FRAGMENT_HOST) == null) {
            String why;
            try {
                b.start();
                why = null;
            } catch (BundleException e) {
                why = e.getMessage();
            }
            if (why != null) {
                throw ApiException.badRequest("file", "start_failed", (update ? "Updated " : "Installed ") + bsn + " "
                        + b.getVersion() + where + ", but it cannot start: " + why);
            }
        }
        return (update ? "Updated " : "Installed ") + bsn + " " + b.getVersion() + where + ".";
    }

    private Bundle find(String bsn) {
        for (Bundle b : context.getBundles()) {
            if (bsn.equals(b.getSymbolicName()) && b.getState() != Bundle.UNINSTALLED) {
                return b;
            }
        }
        return null;
    }

    static String safeName(String fileName, String bsn, String version) {
        String base = clean(fileName);
        if (base.isEmpty() || base.startsWith(".") || !base.toLowerCase(Locale.ROOT).endsWith(".jar")) {
            base = fallbackName(bsn, version);
        }
        return base;
    }

    /** The bundle's own name for its file: {@code bsn-version.jar}, cleaned like an uploaded name. */
    static String fallbackName(String bsn, String version) {
        String base = clean(bsn + (version == null ? "" : "-" + version.trim()) + ".jar").replaceFirst("^\\.+", "");
        // A BSN of only dots would give a hidden file or a bare ".jar".
        return base.length() <= ".jar".length() ? "plugin.jar" : base;
    }

    /** The last path element of {@code name} with every character outside [A-Za-z0-9._-] replaced; at most 128. */
    private static String clean(String name) {
        String base = name == null ? "" : name.replace('\\', '/');
        base = base.substring(base.lastIndexOf('/') + 1);
        base = base.replaceAll("[^A-Za-z0-9._-]", "_");
        if (base.length() > 128) {
            base = base.substring(0, 124) + ".jar";
        }
        return base;
    }

    /**
     * Where a newly installed bundle's jar goes: always directly inside {@code plugins}, and never
     * over a file another bundle (or anything else) already uses — the uploaded name if it is free,
     * else the bundle's own name, else the upload is refused.
     */
    static Path newFile(Path plugins, String fileName, String bsn, String version) throws ApiException {
        for (String name : List.of(safeName(fileName, bsn, version), fallbackName(bsn, version))) {
            Path target = plugins.resolve(name).normalize();
            if (!plugins.equals(target.getParent())) {
                continue;
            }
            if (!Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                return target;
            }
        }
        throw new ApiException(409, "invalid_request_error", "file_exists", "file", "plugins/"
                + safeName(fileName, bsn, version) + " already exists and belongs to another plugin; " + bsn
                + " was not installed. Rename the jar (or remove the other plugin first).");
    }

    /**
     * Writes beside the plugins folder (same file system, outside the watcher's view) and
     * renames into it, so the folder watcher never sees half a jar.
     */
    private static void write(Path target, byte[] jar) throws IOException {
        Path plugins = Files.createDirectories(target.getParent()); // java -jar without the start script: none yet
        Path tmpDir = Files.createDirectories((plugins.getParent() != null ? plugins.getParent() : plugins)
                .resolve(".loadstone-upload"));
        Path tmp = Files.createTempFile(tmpDir, "upload", ".part");
        try {
            Files.write(tmp, jar);
            try {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (java.nio.file.AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private Bundle awaitFileInstall(String bsn, long before) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < end) {
            Bundle b = find(bsn);
            if (b != null && b.getLastModified() > before && (b.getState() == Bundle.ACTIVE
                    || b.getHeaders("").get(Constants.FRAGMENT_HOST) != null && b.getState() == Bundle.RESOLVED)) {
                return b;
            }
            TimeUnit.MILLISECONDS.sleep(100);
        }
        Bundle b = find(bsn);
        return b != null && b.getLastModified() > before ? b : null;
    }

    /**
     * Starts again the bundles that were started (persistently) but could not stay so because something they
     * import went away: uninstalling the llama.cpp runtime unresolves its loaders, and installing it again
     * resolves and starts nothing by itself (the framework restarts only what a refresh stopped), so they stayed
     * INSTALLED until someone pressed Start. The OSGi record of "meant to run" is the persistent autostart
     * setting; a Stop clears it, so a bundle someone stopped stays stopped. Runs on the request thread after the
     * install, update and refresh are done, so it never races the framework's own restarts.
     *
     * @return " Started again: X, Y." for the status line, or "" when nothing was waiting
     */
    private String startDependents() {
        Bundle system = context.getBundle(Constants.SYSTEM_BUNDLE_LOCATION);
        int active = system.adapt(FrameworkStartLevel.class).getStartLevel();
        List<Bundle> waiting = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            BundleStartLevel sl = b.adapt(BundleStartLevel.class);
            if (b.getBundleId() != 0 && (b.getState() == Bundle.INSTALLED || b.getState() == Bundle.RESOLVED)
                    && b.getHeaders("").get(Constants.FRAGMENT_HOST) == null && sl != null
                    && sl.isPersistentlyStarted() && sl.getStartLevel() <= active) {
                waiting.add(b);
            }
        }
        if (waiting.isEmpty()) {
            return "";
        }
        system.adapt(FrameworkWiring.class).resolveBundles(waiting);
        List<String> started = new ArrayList<>();
        for (Bundle b : waiting) {
            if (b.getState() != Bundle.RESOLVED) {
                continue; // still missing something: a later install will tell
            }
            try {
                b.start(b.adapt(BundleStartLevel.class).isActivationPolicyUsed() ? Bundle.START_ACTIVATION_POLICY : 0);
                started.add(b.getSymbolicName());
            } catch (BundleException | IllegalStateException e) {
                LOG.log(Level.WARNING, "Cannot start " + b.getSymbolicName() + " again: " + e.getMessage(), e);
            }
        }
        if (!started.isEmpty()) {
            LOG.log(Level.INFO, "Started again, now that what they need is back: " + started);
        }
        return started.isEmpty() ? "" : " Started again: " + String.join(", ", started) + ".";
    }

    private static void startIfHost(Bundle b) throws BundleException {
        if (b.getHeaders("").get(Constants.FRAGMENT_HOST) == null) {
            b.start();
        }
    }

    String uninstall(long id) throws ApiException {
        Bundle b = managed(id);
        String name = b.getSymbolicName() + " " + b.getVersion();
        Path file = pluginFile(b, pluginsDir());
        try {
            if (file != null) {
                // File Install owns this bundle: removing its jar makes File Install uninstall it, which
                // keeps its bookkeeping right (uninstalling behind its back makes it try to "update" the
                // dead bundle when a jar of the same name comes back).
                Files.deleteIfExists(file);
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
                while (b.getState() != Bundle.UNINSTALLED && System.nanoTime() < end) {
                    TimeUnit.MILLISECONDS.sleep(100);
                }
            }
            if (b.getState() != Bundle.UNINSTALLED) {
                b.uninstall();
            }
            refresh(List.of(b));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (BundleException | IOException e) {
            throw new ApiException(500, "server_error", "uninstall_failed", null, "Could not uninstall " + name + ": "
                    + e.getMessage());
        }
        LOG.log(Level.INFO, "Uninstalled " + name + " from the web UI");
        return "Uninstalled " + name + (file != null ? " and deleted plugins/" + file.getFileName() : "") + ".";
    }

    String start(long id) throws ApiException {
        Bundle b = managed(id);
        try {
            startIfHost(b);
        } catch (BundleException e) {
            throw ApiException.badRequest("id", "start_failed", "Cannot start " + b.getSymbolicName() + ": "
                    + e.getMessage());
        }
        return "Started " + b.getSymbolicName() + ".";
    }

    String stop(long id) throws ApiException {
        Bundle b = managed(id);
        try {
            b.stop();
        } catch (BundleException e) {
            throw new ApiException(500, "server_error", "stop_failed", null, "Cannot stop " + b.getSymbolicName()
                    + ": " + e.getMessage());
        }
        return "Stopped " + b.getSymbolicName() + ".";
    }

    /** Drops stale wirings so the old revision (and any native library it loaded) can go. */
    private void refresh(List<Bundle> bundles) throws InterruptedException {
        FrameworkWiring fw = context.getBundle(Constants.SYSTEM_BUNDLE_LOCATION).adapt(FrameworkWiring.class);
        CountDownLatch done = new CountDownLatch(1);
        fw.refreshBundles(new ArrayList<>(bundles), e -> {
            if (e.getType() == FrameworkEvent.PACKAGES_REFRESHED || e.getType() == FrameworkEvent.ERROR) {
                done.countDown();
            }
        });
        done.await(30, TimeUnit.SECONDS);
    }
}
