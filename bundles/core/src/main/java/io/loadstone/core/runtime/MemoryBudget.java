package io.loadstone.core.runtime;

import io.loadstone.api.runtime.ByteSize;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

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

    /** Kept as the name the budget messages use; the format itself is {@link ByteSize}'s. */
    static String human(long bytes) {
        return ByteSize.format(bytes);
    }
}
