package io.loadstone.launcher.flags;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The runnable jar's command line, declared once: the launcher reads it to answer {@code --help} and refuse a bad
 * flag before anything starts, the core bundle reads it to turn the flags into Config Admin configuration. The
 * flags are text-generation-webui's where it has one.
 */
public final class Flags {

    /** The runtime's configuration (models folder, the model to load at start). */
    public static final String CORE_PID = "io.loadstone.core";
    /** The web server's configuration (port, network exposure, API key). */
    public static final String SERVER_PID = "io.loadstone.server";

    public static final Flag SHELL = Flag.launcher("--shell",
            "the Gogo shell on stdin even without a terminal (with no terminal Loadstone runs as a service)");
    public static final Flag HELP = Flag.launcher("--help", "print this list and exit", "-h");

    /** Every flag, in the order {@code --help} lists them. */
    public static final List<Flag> ALL = List.of(
            Flag.valued("--models", "DIR", "the models folder (default models/)", CORE_PID, "models.dir",
                    Flags::text, "--model-dir"),
            Flag.valued("--loras", "DIR", "the LoRA folder (default loras/)", CORE_PID, "loras.dir", Flags::text,
                    "--lora-dir"),
            Flag.valued("--model", "NAME", "the model to load at start, kept for later starts ('none': none)",
                    CORE_PID, "model", Flags::model),
            Flag.valued("--port", "N", "the web UI and API port (default 7860; 0 picks a free one)", SERVER_PID,
                    "port", Flags::port),
            Flag.toggle("--listen", "serve all network interfaces, not only this machine (needs --api-key or "
                    + "--no-auth)", SERVER_PID, "listen"),
            Flag.valued("--api-key", "KEY", "the key every API call and the web UI need", SERVER_PID, "api.key",
                    Flags::text),
            Flag.toggle("--no-auth", "allow --listen without an API key", SERVER_PID, "allow.no.auth"),
            SHELL,
            HELP);

    private Flags() {
    }

    /**
     * What a command line asks for.
     *
     * @param config the configuration properties it sets, by PID
     * @param shell  whether {@code --shell} was given
     * @param help   whether {@code --help} was given
     */
    public record Parsed(Map<String, Map<String, Object>> config, boolean shell, boolean help) {
    }

    /**
     * Reads a command line; {@code --flag=value} and {@code --flag value} are the same.
     *
     * @throws IllegalArgumentException naming the flag that is unknown, lacks its value or has a bad one
     */
    public static Parsed parse(String... args) {
        Map<String, Map<String, Object>> config = new LinkedHashMap<>();
        boolean shell = false;
        boolean help = false;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String name = arg;
            String value = null;
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 0) {
                name = arg.substring(0, eq);
                value = arg.substring(eq + 1);
            }
            Flag flag = find(name);
            if (flag == null) {
                throw new IllegalArgumentException(unknown(arg, name));
            }
            if (flag.takesValue() && value == null) {
                if (i + 1 >= args.length || args[i + 1].startsWith("--")) {
                    throw new IllegalArgumentException(name + " needs a value: " + flag.synopsis() + ".");
                }
                value = args[++i];
            } else if (!flag.takesValue() && value != null) {
                throw new IllegalArgumentException(name + " takes no value (given '" + value + "').");
            }
            if (flag == SHELL) {
                shell = true;
            } else if (flag == HELP) {
                help = true;
            } else {
                Object converted;
                try {
                    converted = flag.convert().apply(value);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(name + " " + e.getMessage());
                }
                config.computeIfAbsent(flag.pid(), k -> new LinkedHashMap<>()).put(flag.key(), converted);
            }
        }
        return new Parsed(config, shell, help);
    }

    /** The {@code --help} text: a usage line, then each flag on one line. */
    public static String usage() {
        StringBuilder b = new StringBuilder("Usage: java -jar loadstone-full.jar [FLAGS]"
                + "   (or loadstone-llamacpp.jar, or distribution/loadstone run)\n");
        int width = ALL.stream().mapToInt(f -> f.synopsis().length()).max().orElse(0);
        for (Flag f : ALL) {
            b.append(String.format(Locale.ROOT, "  %-" + width + "s  %s%n", f.synopsis(), f.help()));
        }
        return b.toString();
    }

    /** The flag with this name or alias, or {@code null}. */
    public static Flag find(String name) {
        for (Flag f : ALL) {
            if (f.names().contains(name)) {
                return f;
            }
        }
        return null;
    }

    private static String unknown(String arg, String name) {
        String closest = null;
        int best = Integer.MAX_VALUE;
        for (Flag f : ALL) {
            for (String n : f.names()) {
                int d = distance(name, n);
                if (d < best) {
                    best = d;
                    closest = n;
                }
            }
        }
        // A typo is a couple of edits away; a flag of another program is not worth a guess.
        String guess = best <= 2 ? " (did you mean " + closest + "?)" : "";
        return "unknown flag '" + arg + "'" + guess + ".";
    }

    /** Levenshtein distance, for the "did you mean" of a misspelled flag. */
    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    private static Object text(String v) {
        if (v.isBlank()) {
            throw new IllegalArgumentException("needs a value that is not empty.");
        }
        return v;
    }

    /** 'none' is saved as no model, so that a start without --model after it loads nothing either. */
    private static Object model(String v) {
        return "none".equals(v.strip()) ? "" : text(v);
    }

    private static Object port(String v) {
        try {
            int port = Integer.parseInt(v.strip());
            if (port >= 0 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // Reported below with the range.
        }
        throw new IllegalArgumentException("needs a number from 0 to 65535, not '" + v + "'.");
    }
}
