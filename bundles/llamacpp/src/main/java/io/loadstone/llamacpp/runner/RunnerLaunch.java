package io.loadstone.llamacpp.runner;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * How runner processes are started.
 *
 * @param java       the java launcher (the server's own JDK)
 * @param classpath  a jar or folder holding this bundle's classes (the runner needs the binding
 *                   packages, the API package and this one; nothing from OSGi)
 * @param library    the llama.cpp shared library the runner loads
 * @param build      its build name (which binding to use), e.g. {@code llama.cpp-b4916}
 * @param workDir    where the shared logits files and crash logs go
 * @param jvmOptions extra options for the runner's JVM
 */
public record RunnerLaunch(Path java, Path classpath, Path library, String build, Path workDir,
        List<String> jvmOptions) {

    /** The options every runner JVM gets: native access for FFM, a small fast-starting VM, no core dumps. */
    public static final List<String> DEFAULT_JVM_OPTIONS = List.of("--enable-native-access=ALL-UNNAMED",
            "-XX:+UseSerialGC", "-XX:-CreateCoredumpOnCrash", "-XX:TieredStopAtLevel=1", "-Xss4m");

    public RunnerLaunch {
        // The runner starts in workDir, so a relative path (Felix's storage is relative to the
        // home folder in the exported jar) would resolve against the wrong folder there.
        classpath = classpath.toAbsolutePath();
        library = library.toAbsolutePath();
        workDir = workDir.toAbsolutePath();
        jvmOptions = List.copyOf(jvmOptions);
    }

    /** The launcher of the JDK this JVM runs on. */
    public static Path currentJava() {
        boolean windows = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");
        return Path.of(System.getProperty("java.home"), "bin", windows ? "java.exe" : "java");
    }

    /** Where this class was loaded from, for runs outside OSGi (tests, benchmarks): target/classes or the jar. */
    public static Path ownClasspath() {
        try {
            return Path.of(RunnerMain.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException | RuntimeException e) {
            throw new IllegalStateException("Cannot tell where the llama.cpp runner's classes are: " + e, e);
        }
    }

    /** A launch outside OSGi with the default options and this class's own classpath. */
    public static RunnerLaunch outsideOsgi(Path library, String build, Path workDir) {
        return new RunnerLaunch(currentJava(), ownClasspath(), library, build, workDir, DEFAULT_JVM_OPTIONS);
    }

    /** The same, with a fresh temporary folder for the runners' files. */
    public static RunnerLaunch outsideOsgi(Path library, String build) {
        try {
            return outsideOsgi(library, build, Files.createTempDirectory("loadstone-runner-"));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot create a folder for the llama.cpp runner: " + e.getMessage(), e);
        }
    }

    public RunnerLaunch withJvmOptions(List<String> options) {
        return new RunnerLaunch(java, classpath, library, build, workDir, options);
    }
}
