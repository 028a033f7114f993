package io.loadstone.llamacpp.provision;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Enumeration;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;

import org.osgi.framework.Bundle;

/**
 * The class path of a runner process: this bundle's {@code io/loadstone/llamacpp} classes (API,
 * bindings, runner) copied into a plain jar in the data area, because a bundle's own location
 * is the framework's business and may be no file at all. The runner needs nothing from OSGi.
 * Named per bundle revision, so a runner still running from an older revision keeps its jar.
 */
final class RunnerJar {

    private RunnerJar() {
    }

    static Path write(Bundle bundle, Path dir) throws IOException {
        Files.createDirectories(dir);
        String name = "runner-" + bundle.getBundleId() + "-" + bundle.getLastModified() + ".jar";
        Path target = dir.resolve(name);
        try (DirectoryStream<Path> old = Files.newDirectoryStream(dir, "runner-*.jar")) {
            for (Path p : old) {
                if (!p.equals(target)) {
                    Files.deleteIfExists(p);
                }
            }
        }
        Enumeration<URL> classes = bundle.findEntries("io/loadstone/llamacpp", "*.class", true);
        if (classes == null) {
            throw new IOException(bundle.getSymbolicName() + " has no io/loadstone/llamacpp classes to start a runner with");
        }
        Path tmp = Files.createTempFile(dir, "runner-", ".tmp");
        try {
            try (OutputStream os = Files.newOutputStream(tmp); JarOutputStream jar = new JarOutputStream(os)) {
                while (classes.hasMoreElements()) {
                    URL u = classes.nextElement();
                    String entry = u.getPath().startsWith("/") ? u.getPath().substring(1) : u.getPath();
                    jar.putNextEntry(new JarEntry(entry));
                    try (InputStream in = u.openStream()) {
                        in.transferTo(jar);
                    }
                    jar.closeEntry();
                }
            }
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return target;
    }
}
