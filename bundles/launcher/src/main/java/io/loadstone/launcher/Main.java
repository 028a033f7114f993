package io.loadstone.launcher;

import java.io.Console;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;

import io.loadstone.launcher.flags.Flags;

/**
 * The runnable jar's entry point, ahead of bnd's launcher: answers {@code --help}, refuses a bad flag (usage, exit
 * 2) before anything starts, decides between the interactive shell and running as a service, and keeps saved
 * settings outside the framework cache the launcher wipes on each start. Then it hands the unchanged command line
 * to bnd's embedded launcher, whose framework publishes it to the core bundle.
 *
 * <p>Exit codes: 0 after {@code --help} or a stop by SIGTERM/SIGINT, 1 when the server cannot start (port in
 * use), 2 for a bad command line, 117 after {@code stop 0} in the shell (bnd's "framework stopped").
 */
public final class Main {

    /** bnd's launcher in the exported jar; looked up by name so that this class needs no bnd on its class path. */
    static final String EMBEDDED_LAUNCHER = "aQute.launcher.pre.EmbeddedLauncher";
    /** Gogo's options: with {@code --nointeractive} it neither reads stdin nor stops the framework at its end. */
    static final String GOSH_ARGS = "gosh.args";
    /** Where Felix Config Admin keeps configurations; by default inside the framework cache. */
    static final String CONFIG_DIR = "felix.cm.dir";
    /** One log record, one line ("12:00:01 SEVERE io.loadstone...: port 7860 is in use ..."), not JUL's two. */
    static final String LOG_FORMAT = "java.util.logging.SimpleFormatter.format";

    private Main() {
    }

    public static void main(String[] args) throws Throwable {
        Flags.Parsed parsed;
        try {
            parsed = Flags.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("loadstone: " + e.getMessage());
            System.err.print(Flags.usage());
            System.exit(2);
            return;
        }
        if (parsed.help()) {
            System.out.print(Flags.usage());
            return;
        }
        if (System.getProperty(LOG_FORMAT) == null) {
            System.setProperty(LOG_FORMAT, "%1$tT %4$s %3$s: %5$s%6$s%n");
        }
        // With no terminal (systemd, nohup, a container, '&' in a script) stdin is at end-of-file, and Gogo would
        // stop the whole framework when it reads that: run as a service instead. -Dgosh.args still wins.
        if (System.getProperty(GOSH_ARGS) == null && !parsed.shell() && !hasTerminal()) {
            System.setProperty(GOSH_ARGS, "--nointeractive");
        }
        // The launcher cleans the framework cache at every start (so that a new jar's bundles replace the old);
        // settings the web UI saved (Autoload...) and the flags' values live beside it, in the Loadstone home.
        if (System.getProperty(CONFIG_DIR) == null) {
            Path home = Path.of(System.getProperty("loadstone.home", ""));
            System.setProperty(CONFIG_DIR, home.resolve("config").toAbsolutePath().toString());
        }
        MethodHandles.publicLookup()
                .findStatic(Class.forName(EMBEDDED_LAUNCHER), "main", MethodType.methodType(void.class,
                        String[].class))
                .invoke(args);
    }

    /** Whether a person can type into this process: stdin and stdout are a terminal. */
    static boolean hasTerminal() {
        Console c = System.console();
        return c != null && c.isTerminal();
    }
}
