package io.loadstone.download.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import io.loadstone.api.runtime.ByteSize;
import io.loadstone.download.DownloadPlan;
import io.loadstone.download.FakeHub;
import io.loadstone.download.TestSettings;
import io.loadstone.download.service.Downloader;

/**
 * Throughput benchmark (not a test): serves a generated 1 GB LFS file from the fake Hub on 127.0.0.1 and
 * downloads it with the downloader (redirect, streaming SHA-256, staging, atomic rename) and, when installed,
 * with {@code curl} from the same URL, then prints both rates and their ratio; also curl followed by
 * {@code sha256sum} and {@code sync} of the file, which is the same work the downloader does. Run with
 * {@code mvn -q test-compile exec:java@bench} (optional arguments: size in MB, runs, target folder such as
 * {@code /dev/shm}).
 */
public final class DownloadBench {

    /** Held so its level stays (JUL keeps loggers weakly): the downloader's INFO lines would break the table. */
    private static final java.util.logging.Logger QUIET = java.util.logging.Logger.getLogger("io.loadstone.download");

    private DownloadBench() {
    }

    public static void main(String[] args) throws Exception {
        QUIET.setLevel(java.util.logging.Level.WARNING);
        long size = (args.length > 0 ? Long.parseLong(args[0]) : 1000) * 1_000_000L;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        // Third argument: where files land (e.g. /dev/shm to take the disk out of the comparison).
        Path work = args.length > 2 ? Files.createTempDirectory(Path.of(args[2]), "loadstone-bench")
                : Files.createTempDirectory("loadstone-bench");
        try (FakeHub hub = new FakeHub().chunk(1 << 20)) {
            byte[] content = generate((int) size);
            long t0 = System.nanoTime();
            FakeHub.FakeFile f = hub.add("bench/big", "model.safetensors", content, true);
            double shaRate = size / ((System.nanoTime() - t0) / 1e9);
            System.out.printf(Locale.ROOT, "file: %s (%d bytes), sha256 %s%n", ByteSize.format(size), size,
                    f.sha256());
            System.out.printf(Locale.ROOT, "in-memory SHA-256 alone: %.0f MB/s; files land in %s%n", shaRate / 1e6,
                    work);

            // Runs alternate (ours, curl, ours, curl, …) so both see the same background load.
            List<Double> ours = new ArrayList<>();
            List<Double> curl = new ArrayList<>();
            List<Double> curlChecked = new ArrayList<>();
            boolean haveCurl = installed("curl");
            boolean haveShaTools = installed("sha256sum") && installed("sync");
            String url = hub.base() + "/bench/big/resolve/main/model.safetensors";
            for (int i = 0; i < runs; i++) {
                Path root = work.resolve("ours-" + i);
                try (Downloader d = new Downloader(TestSettings.of(hub.base(), root), TestSettings.noEnv())) {
                    DownloadPlan plan = d.plan(d.parse("bench/big"), Optional.empty());
                    long start = System.nanoTime();
                    Path target = d.start(plan, null).await();
                    double secs = (System.nanoTime() - start) / 1e9;
                    if (Files.size(target.resolve("model.safetensors")) != size) {
                        throw new IllegalStateException("wrong size");
                    }
                    ours.add(size / secs);
                    System.out.printf(Locale.ROOT, "loadstone run %d: %.2f s, %.0f MB/s (SHA-256 verified, fsynced)%n",
                            i + 1, secs, size / secs / 1e6);
                }
                delete(root);
                if (!haveCurl) {
                    continue;
                }
                Path out = work.resolve("curl-" + i + ".bin");
                long start = System.nanoTime();
                Process p = new ProcessBuilder("curl", "-sS", "-L", "-o", out.toString(), url).inheritIO().start();
                if (p.waitFor() != 0) {
                    throw new IllegalStateException("curl failed");
                }
                double secs = (System.nanoTime() - start) / 1e9;
                if (Files.size(out) != size) {
                    throw new IllegalStateException("curl: wrong size");
                }
                curl.add(size / secs);
                System.out.printf(Locale.ROOT, "curl run %d:      %.2f s, %.0f MB/s (no verification)%n", i + 1, secs,
                        size / secs / 1e6);
                Files.delete(out);
                if (!haveShaTools) {
                    continue;
                }
                // Like for like: curl, then sha256sum and an fsync of the file, as the downloader does.
                start = System.nanoTime();
                run("curl", "-sS", "-L", "-o", out.toString(), url);
                String sum = run("sha256sum", out.toString());
                run("sync", out.toString());
                secs = (System.nanoTime() - start) / 1e9;
                if (!sum.startsWith(f.sha256())) {
                    throw new IllegalStateException("curl + sha256sum: wrong hash " + sum);
                }
                curlChecked.add(size / secs);
                System.out.printf(Locale.ROOT, "curl+sha256sum+sync %d: %.2f s, %.0f MB/s%n", i + 1, secs,
                        size / secs / 1e6);
                Files.delete(out);
            }

            double bestOurs = ours.stream().mapToDouble(Double::doubleValue).max().orElse(0);
            double medianOurs = median(ours);
            System.out.printf(Locale.ROOT, "loadstone: best %.0f MB/s, median %.0f MB/s%n", bestOurs / 1e6,
                    medianOurs / 1e6);
            if (curl.isEmpty()) {
                System.out.println("curl is not installed: no comparison");
            } else {
                double bestCurl = curl.stream().mapToDouble(Double::doubleValue).max().orElse(0);
                double medianCurl = median(curl);
                System.out.printf(Locale.ROOT, "curl:      best %.0f MB/s, median %.0f MB/s%n", bestCurl / 1e6,
                        medianCurl / 1e6);
                System.out.printf(Locale.ROOT, "ratio loadstone/curl: best %.2f, median %.2f%n", bestOurs / bestCurl,
                        medianOurs / medianCurl);
                if (!curlChecked.isEmpty()) {
                    double bestChecked = curlChecked.stream().mapToDouble(Double::doubleValue).max().orElse(0);
                    System.out.printf(Locale.ROOT, "curl+sha256sum+sync: best %.0f MB/s, median %.0f MB/s%n",
                            bestChecked / 1e6, median(curlChecked) / 1e6);
                    System.out.printf(Locale.ROOT, "ratio loadstone/(curl+sha256sum+sync): best %.2f, median %.2f%n",
                            bestOurs / bestChecked, medianOurs / median(curlChecked));
                }
            }
        } finally {
            delete(work);
        }
    }

    /** Pseudo-random bytes (incompressible, like weights), fast to make. */
    public static byte[] generate(int size) {
        byte[] b = new byte[size];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom r = new SplittableRandom(42);
        while (bb.remaining() >= 8) {
            bb.putLong(r.nextLong());
        }
        while (bb.hasRemaining()) {
            bb.put((byte) r.nextInt());
        }
        return b;
    }

    static double median(List<Double> xs) {
        if (xs.isEmpty()) {
            return 0;
        }
        List<Double> s = xs.stream().sorted().toList();
        return s.get(s.size() / 2);
    }

    static boolean installed(String tool) {
        try {
            return new ProcessBuilder(tool, "--version").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Runs a tool and returns its output; fails when it fails. */
    static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
        }
        return out;
    }

    static void delete(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(x);
            }
        }
    }
}
