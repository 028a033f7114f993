package io.loadstone.bench;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

import io.loadstone.llamacpp.CacheType;
import io.loadstone.llamacpp.ContextParams;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.LlamaRuntime;
import io.loadstone.llamacpp.ModelParams;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.llamacpp.TokenSampler;
import io.loadstone.llamacpp.SamplerParams;
import io.loadstone.llamacpp.runner.RunnerLaunch;
import io.loadstone.llamacpp.runner.RunnerRuntime;

/**
 * What the runner process costs: the same llama.cpp library in this process and in a runner
 * process, on stories260K (where per-call overhead shows most) and a synthetic TinyLlama-shaped
 * F16 model, rounds interleaved so that machine noise hits both alike. Prints tokens/s and the
 * ratio runner / in-process for the loops the loaders run: "llama.cpp" generation (sample +
 * decode per token), llamacpp_HF generation (decode + logits read back per token) and a
 * perplexity window (one decode returning every position's logits). Also the runner's start-up
 * time (a JVM that has loaded the library) and the load time of each model both ways.
 *
 * <pre>
 *   ./bench.sh runner [--layers 4] [--threads 2] [--gen 64] [--rounds 5] [--dir /tmp/...]
 * </pre>
 */
public final class RunnerBench {

    private record Speeds(double generate, double hfGenerate, double window) {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = System.out; // a command-line tool: its report goes to stdout
        int layers = 4;
        int threads = 2;
        int gen = 64;
        int rounds = 5;
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "loadstone-runner-bench");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--layers" -> layers = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--gen" -> gen = Integer.parseInt(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--dir" -> dir = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Files.createDirectories(dir);
        Path lib = EngineVsLlamaCpp.extractLibrary(dir);
        Path synthetic = dir.resolve("model-" + layers + "l-f16.gguf");
        if (!Files.isRegularFile(synthetic)) {
            EngineVsLlamaCpp.writeGguf(synthetic, layers);
        }
        Path stories = Path.of(System.getProperty("loadstone.shared.models", "../../../shared/models"))
                .resolve("stories260K.gguf");
        out.printf(Locale.ROOT, "llama.cpp in this process vs in a runner process; %d threads, generate %d, "
                + "1 warm-up + median of %d interleaved rounds; %d CPUs, %s%n", threads, gen, rounds,
                Runtime.getRuntime().availableProcessors(), cpuModel());

        List<Long> starts = new ArrayList<>();
        RunnerRuntime runner = null;
        for (int i = 0; i < 5; i++) {
            if (runner != null) {
                runner.close();
            }
            runner = RunnerRuntime.start(RunnerLaunch.outsideOsgi(lib, "llama.cpp-b4916", dir.resolve("runner")));
            starts.add(runner.startupNanos());
        }
        out.printf(Locale.ROOT, "runner start-up (JVM + library loaded), 5 starts: %s ms%n",
                starts.stream().map(n -> String.format(Locale.ROOT, "%.0f", n / 1e6)).toList());
        try (LlamaLibrary library = LlamaLibrary.load(lib, "llama.cpp-b4916"); RunnerRuntime r = runner) {
            for (Path model : List.of(stories, synthetic)) {
                compare(out, model, library.runtime(), r, threads, gen, rounds);
            }
        }
    }

    private static void compare(PrintStream out, Path model, LlamaRuntime local, LlamaRuntime remote, int threads,
            int gen, int rounds) throws LlamaException {
        ContextParams cp = ContextParams.defaults().withContext(512).withThreads(threads, threads)
                .withCache(CacheType.F16, CacheType.F16);
        long t0 = System.nanoTime();
        NativeModel a = local.open(model, ModelParams.defaults(), cp);
        long t1 = System.nanoTime();
        NativeModel b = remote.open(model, ModelParams.defaults(), cp);
        long t2 = System.nanoTime();
        try (a; b) {
            out.printf(Locale.ROOT, "%s: load %.0f ms in process, %.0f ms with a runner (start included)%n",
                    model.getFileName(), (t1 - t0) / 1e6, (t2 - t1) / 1e6);
            int[] prompt = new SplittableRandom(42).ints(32, 3, a.nVocab()).toArray();
            int[] window = new SplittableRandom(7).ints(128, 3, a.nVocab()).toArray();
            List<Speeds> sa = new ArrayList<>();
            List<Speeds> sb = new ArrayList<>();
            for (int round = 0; round <= rounds; round++) {
                Speeds x = measure(a, prompt, window, gen);
                Speeds y = measure(b, prompt, window, gen);
                if (round > 0) {
                    sa.add(x);
                    sb.add(y);
                }
            }
            row(out, "generate (sample+decode)", sa.stream().mapToDouble(Speeds::generate).toArray(),
                    sb.stream().mapToDouble(Speeds::generate).toArray(), "tok/s");
            row(out, "HF generate (decode+logits)", sa.stream().mapToDouble(Speeds::hfGenerate).toArray(),
                    sb.stream().mapToDouble(Speeds::hfGenerate).toArray(), "tok/s");
            row(out, "window of 128, all logits", sa.stream().mapToDouble(Speeds::window).toArray(),
                    sb.stream().mapToDouble(Speeds::window).toArray(), "tok/s");
        }
    }

    private static void row(PrintStream out, String what, double[] inProcess, double[] runner, String unit) {
        double a = median(inProcess);
        double b = median(runner);
        out.printf(Locale.ROOT, "  %-28s in process %9.1f %s, runner %9.1f %s, ratio %.3f%n", what, a, unit, b, unit,
                b / a);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static Speeds measure(NativeModel m, int[] prompt, int[] window, int gen) throws LlamaException {
        m.clearKvCache();
        m.decode(prompt, 0);
        long t0 = System.nanoTime();
        try (TokenSampler s = m.newSampler(SamplerParams.greedyDecoding())) {
            for (int i = 0; i < gen; i++) {
                m.decode(new int[] {s.sample()}, prompt.length + i);
            }
        }
        long t1 = System.nanoTime();
        m.clearKvCache();
        m.decode(prompt, 0);
        long t2 = System.nanoTime();
        float[] logits = m.lastLogits();
        for (int i = 0; i < gen; i++) {
            m.decode(new int[] {Measurements.argmax(logits)}, prompt.length + i);
            logits = m.lastLogits();
        }
        long t3 = System.nanoTime();
        m.clearKvCache();
        long t4 = System.nanoTime();
        float[][] all = m.decodeAll(window, 0);
        long t5 = System.nanoTime();
        if (all.length != window.length) {
            throw new IllegalStateException("decodeAll gave " + all.length + " rows");
        }
        return new Speeds(gen * 1e9 / (t1 - t0), gen * 1e9 / (t3 - t2), window.length * 1e9 / (t5 - t4));
    }

    private static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).strip()).orElse("CPU unknown");
        } catch (java.io.IOException e) {
            return "CPU unknown";
        }
    }
}
