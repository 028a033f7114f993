package io.loadstone.llamacpp.provision;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.namespace.HostNamespace;
import org.osgi.framework.wiring.BundleWire;
import org.osgi.framework.wiring.BundleWiring;

/**
 * Finds the native fragments attached to this bundle and copies a fragment's library into
 * this bundle's data area, so that it is opened from a file that belongs to us. That avoids
 * Felix's per-class-loader native library bookkeeping (which refuses a library "already
 * loaded in another classloader" after an update) and never touches the user's temp dir.
 */
final class NativeFragments {

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
            String library = fragment.getHeaders("").get(NativeFragment.LIBRARY_HEADER);
            String build = fragment.getHeaders("").get(NativeFragment.BUILD_HEADER);
            if (library == null || build == null) {
                continue;
            }
            String platform = fragment.getHeaders("").get(NativeFragment.PLATFORM_HEADER);
            out.add(new NativeFragment(fragment, library.trim(), build.trim(),
                    platform == null ? "" : platform.trim()));
        }
        return out;
    }

    /**
     * Copies the fragment's library to {@code native/<bsn>-<version>-<sha256 prefix>/<name>}
     * in the data area (once; an existing identical copy is reused) and returns its path.
     */
    static Path privateCopy(BundleContext context, NativeFragment f) throws IOException {
        URL entry = f.bundle().getEntry(f.library());
        if (entry == null) {
            throw new IOException("Fragment " + f.describe() + " names " + f.library()
                    + " in its " + NativeFragment.LIBRARY_HEADER + " header, but has no such entry.");
        }
        java.io.File dataRoot = context.getDataFile("native");
        if (dataRoot == null) {
            throw new IOException("The OSGi framework gives this bundle no data area to copy the native library to.");
        }
        Path root = dataRoot.toPath();
        Files.createDirectories(root);
        String fileName = f.library().substring(f.library().lastIndexOf('/') + 1);
        Path tmp = Files.createTempFile(root, "copy-", ".part");
        try {
            MessageDigest sha;
            try {
                sha = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IOException(e);
            }
            try (InputStream in = new DigestInputStream(entry.openStream(), sha)) {
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            String hash = HexFormat.of().formatHex(sha.digest()).substring(0, 16);
            Path dir = root.resolve(f.bundle().getSymbolicName() + "-" + f.bundle().getVersion() + "-" + hash);
            Path target = dir.resolve(fileName);
            if (!Files.isRegularFile(target) || Files.size(target) != Files.size(tmp)) {
                Files.createDirectories(dir);
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
            removeOtherCopies(root, dir);
            return target;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Deletes copies of other fragment versions (5-6 MB each), best effort: a copy this
     * process has mapped may be deleted on Linux and macOS; on Windows it stays until the
     * next start.
     */
    private static void removeOtherCopies(Path root, Path keep) {
        try (var dirs = Files.list(root)) {
            for (Path d : dirs.filter(Files::isDirectory).filter(d -> !d.equals(keep)).toList()) {
                try (var files = Files.list(d)) {
                    for (Path f : files.toList()) {
                        Files.deleteIfExists(f);
                    }
                }
                Files.deleteIfExists(d);
            }
        } catch (IOException e) {
            // Left for the next activation.
        }
    }
}
