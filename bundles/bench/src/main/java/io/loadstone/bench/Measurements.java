package io.loadstone.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What the benchmarks measure besides time: the greedy token, and this process's resident memory. */
final class Measurements {

    private Measurements() {
    }

    /** Index of the largest logit (greedy decoding; the first wins a tie). */
    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    /** VmRSS, and its anonymous (heap, KV cache, buffers) and file-backed (mapped weights) parts. */
    static String memory() {
        try {
            StringBuilder sb = new StringBuilder();
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS") || line.startsWith("RssAnon") || line.startsWith("RssFile")) {
                    String[] f = line.split("\\s+");
                    sb.append(f[0]).append(' ').append(Long.parseLong(f[1]) / 1024).append(" MB ");
                }
            }
            return sb.toString().trim();
        } catch (IOException | RuntimeException e) {
            return "n/a (" + e.getMessage() + ")";
        }
    }
}
