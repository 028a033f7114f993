package io.loadstone.starter;

import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.loadstone.api.runtime.ModelManager;

/**
 * Puts the starter model into the models folder the first time Loadstone runs there, so
 * a new user sees real text without downloading anything. A marker file remembers that
 * it was offered: a user who deletes the model does not get it back on every start.
 */
@Component(immediate = true)
public final class StarterModel {

    private static final Logger LOG = System.getLogger(StarterModel.class.getName());
    static final String FILE = "stories260K.gguf";
    static final String MARKER = ".loadstone-starter-offered";

    @Activate
    public StarterModel(BundleContext context, @Reference ModelManager manager) {
        Path dir = manager.modelsDir();
        Path marker = dir.resolve(MARKER);
        Path target = dir.resolve(FILE);
        if (Files.exists(marker) || Files.exists(target)) {
            return;
        }
        URL source = context.getBundle().getEntry("starter/" + FILE);
        try (InputStream in = source.openStream()) {
            Files.createDirectories(dir);
            // Copy under a hidden name, then rename: the folder watcher never sees half a file.
            Path tmp = dir.resolve("." + FILE + ".tmp");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            Files.writeString(marker, "The starter model " + FILE + " was placed here once. Delete this file to "
                    + "get it back on the next start.\n");
            LOG.log(Level.INFO, "Placed the starter model " + target);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Could not place the starter model in " + dir + ": " + e.getMessage());
        }
    }
}
