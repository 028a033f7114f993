package io.loadstone.core.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** The default memory budget and human-readable sizes. */
final class MemoryBudget {

    private MemoryBudget() {
    }

    /** Three quarters of physical memory (Linux /proc/meminfo), else 8 GiB. */
    static long defaultBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    long kb = Long.parseLong(line.replaceAll("\\D+", ""));
                    return kb * 1024 / 4 * 3;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: fall through
        }
        return 8L << 30;
    }

    static String human(long bytes) {
        if (bytes < 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f KB", bytes / 1024.0);
        }
        if (bytes < 1L << 30) {
            return String.format(Locale.ROOT, "%.1f MB", bytes / (1024.0 * 1024));
        }
        return String.format(Locale.ROOT, "%.2f GB", bytes / (double) (1L << 30));
    }
}
