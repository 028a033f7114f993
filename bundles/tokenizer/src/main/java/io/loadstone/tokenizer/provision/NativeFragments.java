package io.loadstone.tokenizer.provision;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.namespace.HostNamespace;
import org.osgi.framework.wiring.BundleWire;
import org.osgi.framework.wiring.BundleWiring;

/**
 * Finds the native fragments attached to this bundle and copies a fragment's library files into
 * this bundle's data area, so the library is opened from files that belong to this bundle: the
 * framework never extracts it under the fragment's revision (which breaks updating the host
 * alone), and neither DJL nor anyone else writes to the user's temp or home directory.
 */
final class NativeFragments {

    private static final System.Logger LOG = System.getLogger(NativeFragments.class.getName());

    private NativeFragments() {
    }

    /** Attached fragments that announce a native library, in attachment order. */
    static List<NativeFragment> attached(Bundle host) {
        List<NativeFragment> out = new ArrayList<>();
        BundleWiring wiring = host.adapt(BundleWiring.class);
        if (wiring == null) {
            return out;
        }
        for (BundleWire wire : wiring.getProvidedWires(HostNamespace.HOST_NAMESPACE)) {
            Bundle fragment = wire.getRequirerWiring().getBundle();
            String libraries = fragment.getHeaders("").get(NativeFragment.LIBRARY_HEADER);
            String build = fragment.getHeaders("").get(NativeFragment.BUILD_HEADER);
            if (libraries == null || build == null) {
                continue;
            }
            String platform = fragment.getHeaders("").get(NativeFragment.PLATFORM_HEADER);
            List<String> entries = Arrays.stream(libraries.split(",")).map(String::trim).filter(s -> !s.isEmpty())
                    .toList();
            out.add(new NativeFragment(fragment, entries, build.trim(), platform == null ? "" : platform.trim()));
        }
        return out;
    }

    /**
     * Copies the fragment's library files into a new directory under {@code native/} in the data
     * area and returns the copies in load order. A new directory every time: the JVM refuses to
     * load one file into two class loaders, and after an update the old revision's class loader
     * may still hold the previous copy. Earlier copies are deleted first where the OS allows it
     * (Windows keeps a loaded DLL locked; it goes at a later start).
     */
    static List<Path> privateCopy(BundleContext context, NativeFragment f) throws IOException {
        File dataRoot = context.getDataFile("native");
        if (dataRoot == null) {
            throw new IOException("The OSGi framework gives this bundle no data area to copy the native library to.");
        }
        Path root = dataRoot.toPath();
        Files.createDirectories(root);
        deleteStaleCopies(root);
        Path dir = Files.createTempDirectory(root, f.bundle().getSymbolicName() + "-" + f.bundle().getVersion() + "-");
        List<Path> copies = new ArrayList<>();
        for (String library : f.libraries()) {
            URL entry = f.bundle().getEntry(library);
            if (entry == null) {
                throw new IOException("Fragment " + f.describe() + " names " + library + " in its "
                        + NativeFragment.LIBRARY_HEADER + " header, but has no such entry.");
            }
            Path target = dir.resolve(library.substring(library.lastIndexOf('/') + 1));
            try (InputStream in = entry.openStream()) {
                Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
            }
            copies.add(target);
        }
        return copies;
    }

    private static void deleteStaleCopies(Path root) {
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(root)) {
            for (Path dir : dirs) {
                try (Stream<Path> walk = Files.walk(dir)) {
                    for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.DEBUG, () -> "Keeping " + dir + " for now: " + e.getMessage());
                }
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, () -> "Cannot list " + root + ": " + e.getMessage());
        }
    }
}
