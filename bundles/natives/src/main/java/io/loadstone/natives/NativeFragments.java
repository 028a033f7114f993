package io.loadstone.natives;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.URL;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.namespace.HostNamespace;
import org.osgi.framework.wiring.BundleWire;
import org.osgi.framework.wiring.BundleWiring;

/**
 * Finds the native fragments attached to a host bundle and copies a fragment's library
 * files into the host's data area, so the library is opened from files that belong to the
 * host: the framework never extracts it under the fragment's revision (which breaks
 * updating the host alone), and nothing writes to the user's temp or home directory.
 */
public final class NativeFragments {

    private static final Logger LOG = System.getLogger(NativeFragments.class.getName());

    private NativeFragments() {
    }

    /** Fragments attached to {@code host} that announce a native library, in attachment order. */
    public static List<NativeFragment> attached(Bundle host) {
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
            if (!entries.isEmpty()) {
                out.add(new NativeFragment(fragment, entries, build.trim(), platform == null ? "" : platform
                        .trim()));
            }
        }
        return out;
    }

    /**
     * Copies the fragment's library files into {@code native/} in the data area of the
     * bundle that owns {@code context}, and returns the copies in load order.
     */
    public static List<Path> privateCopy(BundleContext context, NativeFragment f, CopyPolicy policy)
            throws IOException {
        File dataRoot = context.getDataFile("native");
        if (dataRoot == null) {
            throw new IOException("The OSGi framework gives " + context.getBundle().getSymbolicName()
                    + " no data area to copy the native library to.");
        }
        Path root = dataRoot.toPath();
        Files.createDirectories(root);
        String prefix = f.bundle().getSymbolicName() + "-" + f.bundle().getVersion() + "-";
        return switch (policy) {
            case FRESH -> {
                deleteAll(root, null);
                yield copyInto(Files.createTempDirectory(root, prefix), f);
            }
            case REUSE_IDENTICAL -> {
                Path staging = Files.createTempDirectory(root, "staging-");
                try {
                    String hash = copyHashed(staging, f);
                    Path dir = root.resolve(prefix + hash);
                    if (!Files.isDirectory(dir)) {
                        Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
                    }
                    deleteAll(root, dir);
                    List<Path> out = new ArrayList<>();
                    for (String lib : f.libraries()) {
                        out.add(dir.resolve(fileName(lib)));
                    }
                    yield out;
                } finally {
                    deleteTree(staging);
                }
            }
        };
    }

    private static List<Path> copyInto(Path dir, NativeFragment f) throws IOException {
        List<Path> copies = new ArrayList<>();
        for (String library : f.libraries()) {
            Path target = dir.resolve(fileName(library));
            try (InputStream in = open(f, library)) {
                Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
            }
            copies.add(target);
        }
        return copies;
    }

    /** Copies every library into {@code dir}; returns a short hash of their contents. */
    private static String copyHashed(Path dir, NativeFragment f) throws IOException {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IOException(e);
        }
        for (String library : f.libraries()) {
            try (InputStream in = new DigestInputStream(open(f, library), sha)) {
                Files.copy(in, dir.resolve(fileName(library)), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return HexFormat.of().formatHex(sha.digest()).substring(0, 16);
    }

    private static InputStream open(NativeFragment f, String library) throws IOException {
        URL entry = f.bundle().getEntry(library);
        if (entry == null) {
            throw new IOException("Fragment " + f.describe() + " names " + library + " in its "
                    + NativeFragment.LIBRARY_HEADER + " header, but has no such entry.");
        }
        return entry.openStream();
    }

    private static String fileName(String entry) {
        return entry.substring(entry.lastIndexOf('/') + 1);
    }

    /**
     * Deletes earlier copies (5-6 MB each) except {@code keep}, best effort: a copy this
     * process has mapped may be deleted on Linux and macOS; Windows keeps a loaded DLL locked
     * until a later start.
     */
    private static void deleteAll(Path root, Path keep) {
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(root)) {
            for (Path dir : dirs) {
                if (!dir.equals(keep)) {
                    deleteTree(dir);
                }
            }
        } catch (IOException e) {
            LOG.log(Level.DEBUG, () -> "Cannot list " + root + ": " + e.getMessage());
        }
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            LOG.log(Level.DEBUG, () -> "Keeping " + dir + " for now: " + e.getMessage());
        }
    }
}
