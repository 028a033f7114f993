package io.loadstone.api.runtime;

import java.util.Locale;

/**
 * How Loadstone writes a number of bytes for people (model sizes, memory budgets, downloads): powers of
 * 1000 like the Hugging Face Hub's pages, three significant digits, e.g. {@code 1.23 GB}, {@code 512 kB}.
 * One definition, so that the shell, the web UI and the download tool show the same size for the same file.
 * Since 1.4.
 */
public final class ByteSize {

    private static final String[] UNITS = {"kB", "MB", "GB", "TB", "PB", "EB"};

    private ByteSize() {
    }

    /** {@code bytes} as {@code 999 B}, {@code 1.23 kB}, {@code 12.3 MB}, {@code 123 GB}. */
    public static String format(long bytes) {
        if (bytes < 1000) {
            return bytes + " B";
        }
        double v = bytes;
        int u = -1;
        while (v >= 1000 && u < UNITS.length - 1) {
            v /= 1000;
            u++;
        }
        return String.format(Locale.ROOT, v >= 100 ? "%.0f %s" : v >= 10 ? "%.1f %s" : "%.2f %s", v, UNITS[u]);
    }
}
