package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelManager;

/**
 * The plugins folder, watched by Apache Felix FileInstall: a loader jar dropped in is
 * installed and started, and deleting it uninstalls it; models it loaded are closed.
 */
class PluginsFolderTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @Test
    void droppingALoaderJarInstallsItAndDeletingItUninstallsIt() throws Exception {
        ModelManager manager = Framework.service(ModelManager.class, WAIT);
        Path models = Framework.workDir("plugins-models");
        Files.createDirectories(models.resolve("echo"));
        Files.writeString(models.resolve("echo/echo-model.txt"), "hello from a plugin");
        Framework.configure("io.loadstone.core", Framework.props("models.dir", models.toString(),
                "max.loaded.models", 1));
        Framework.await("configured", WAIT, () -> manager.modelsDir().equals(models));

        Path plugins = Framework.workDir("plugins");
        ConfigurationAdmin ca = Framework.service(ConfigurationAdmin.class, WAIT);
        Configuration watch = ca.createFactoryConfiguration("org.apache.felix.fileinstall", "?");
        watch.update(Framework.props("felix.fileinstall.dir", plugins.toString(), "felix.fileinstall.poll", "200",
                "felix.fileinstall.noInitialDelay", "true", "felix.fileinstall.bundles.new.start", "true"));
        try {
            // Copy under a temporary name and rename, as users' file managers do atomically.
            Path tmp = plugins.resolve("echo-loader.jar.tmp");
            Files.copy(Framework.testBundle("itest-loader.jar"), tmp);
            Files.move(tmp, plugins.resolve("echo-loader.jar"), StandardCopyOption.ATOMIC_MOVE);
            Framework.await("loader installed from plugins/", WAIT, () -> hasEcho(manager));

            manager.load("echo", null, Map.of());
            StringBuilder sb = new StringBuilder();
            manager.generate("echo", GenerationRequest.greedy("x", 4), (id, t) -> sb.append(t) != null);
            assertEquals("hello from a plugin", sb.toString());

            Files.delete(plugins.resolve("echo-loader.jar"));
            Framework.await("loader uninstalled", WAIT, () -> !hasEcho(manager));
            assertTrue(manager.loaded().isEmpty(), "its model was closed");
        } finally {
            watch.delete();
        }
    }

    private static boolean hasEcho(ModelManager manager) {
        return manager.loaders().stream().map(LoaderInfo::id).anyMatch("itest-echo"::equals);
    }
}
