package io.loadstone.loader.llamacpp;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.llamacpp.ContextParams;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.ModelParams;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.llamacpp.SamplerParams;
import io.loadstone.llamacpp.TokenSampler;

/**
 * Not a test (timings do not belong in tests): prefill and decode speed of a GGUF model,
 * through the loader (what users get) and through the bare {@link NativeModel} API (to show
 * what the Java layer costs), greedy, median of several runs.
 *
 * <pre>
 * mvn -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java --enable-native-access=ALL-UNNAMED -cp target/classes:target/test-classes:$(cat target/cp.txt) \
 *     io.loadstone.loader.llamacpp.LlamaCppBench model.gguf [prompt-tokens=256] [new-tokens=128] [threads=0] \
 *     [runs=10] [library=target/natives/native/linux-x86_64/libjllama.so]
 * </pre>
 *
 * <p>{@code model.gguf} may be {@code synthetic:<layers>x<hidden>} (e.g. {@code synthetic:8x1024}, about 100M
 * parameters): a Llama with random F16 weights written to {@code target/}, for speeds at a realistic size.
 */
public final class LlamaCppBench {

    /** Untimed runs first: JIT compilation dominates the first runs on small models. */
    private static final int WARMUP = 5;

    private LlamaCppBench() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = System.out; // a command-line tool: its report goes to stdout
        if (args.length < 1) {
            out.println("usage: LlamaCppBench model.gguf [prompt-tokens] [new-tokens] [threads] [runs] [library]");
            return;
        }
        Path model = Path.of(args[0]);
        if (args[0].startsWith("synthetic:")) {
            // synthetic:<layers>x<hidden>[:<tokenizer.gguf>] writes a random F16 Llama to target/.
            String[] spec = args[0].substring("synthetic:".length()).split(":");
            String[] lh = spec[0].split("x");
            int layers = Integer.parseInt(lh[0]);
            int hidden = Integer.parseInt(lh[1]);
            Path tokenizer = Path.of(spec.length > 1 ? spec[1] : "../../../shared/models/stories260K.gguf");
            model = SyntheticLlama.write(Path.of("target", "synthetic-" + spec[0] + ".gguf"), tokenizer, layers,
                    hidden, hidden * 11 / 4 / 64 * 64, Math.max(1, hidden / 64));
            out.println("wrote " + model + " (" + java.nio.file.Files.size(model) / 1_000_000 + " MB)");
        }
        int promptTokens = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int newTokens = args.length > 2 ? Integer.parseInt(args[2]) : 128;
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        int runs = args.length > 4 ? Integer.parseInt(args[4]) : 10;
        Path lib = Path.of(args.length > 5 ? args[5] : "target/natives/native/linux-x86_64/libjllama.so");

        try (LlamaLibrary library = LlamaLibrary.load(lib, "llama.cpp-b4916")) {
            out.println("llama.cpp " + library.runtime().buildName() + ": " + library.runtime().systemInfo());
            LlamaCppLoader loader = new LlamaCppLoader(library.runtime());
            int nCtx = promptTokens + newTokens + 16;
            Map<String, Object> opts = Map.of("n_ctx", nCtx, "threads", threads, "threads_batch", threads);
            List<double[]> viaLoader = new ArrayList<>();
            List<double[]> bare = new ArrayList<>();
            ContextParams cp = ContextParams.defaults().withContext(nCtx).withThreads(threads, threads);
            try (LoadedModel m = loader.load(ModelSource.of(model), LoaderOptions.validate(loader.options(), opts));
                    NativeModel nm = library.runtime().open(model, ModelParams.defaults(), cp)) {
                out.printf(Locale.ROOT, "%s, n_ctx %d, threads %s/%s%n", m.info().description(),
                        m.info().contextLength(), m.info().effectiveOptions().get("threads"),
                        m.info().effectiveOptions().get("threads_batch"));
                String base = promptOf(m, promptTokens);
                int[] prompt = Arrays.copyOf(nm.tokenize(base, true, false), promptTokens);
                // Loader and bare runs alternate, so that load from other processes hits both alike.
                for (int run = -WARMUP; run < runs; run++) {
                    // A different first word each run, so the prompt cache cannot help.
                    GenerationRequest r = new GenerationRequest("Run " + run + " " + base, newTokens,
                            Map.of("do_sample", false), List.of(), true, true, "");
                    GenerationResult g = m.generate(r, (i, t) -> true);

                    nm.clearKvCache();
                    long t0 = System.nanoTime();
                    nm.decode(prompt, 0);
                    long t1 = System.nanoTime();
                    try (TokenSampler s = nm.newSampler(SamplerParams.greedyDecoding())) {
                        for (int i = 0; i < newTokens; i++) {
                            nm.decode(new int[] {s.sample()}, prompt.length + i);
                        }
                    }
                    long t2 = System.nanoTime();
                    if (run >= 0) {
                        viaLoader.add(new double[] {g.promptTokens() * 1e9 / g.promptNanos(), g.tokensPerSecond()});
                        bare.add(new double[] {prompt.length * 1e9 / (t1 - t0), newTokens * 1e9 / (t2 - t1)});
                    }
                }
            }
            double lp = median(viaLoader, 0);
            double ld = median(viaLoader, 1);
            double bp = median(bare, 0);
            double bd = median(bare, 1);
            out.printf(Locale.ROOT, "prompt %d tokens, %d new tokens, median of %d runs%n", promptTokens, newTokens,
                    runs);
            out.printf(Locale.ROOT, "  loader (LoadedModel.generate): prefill %10.1f tok/s   decode %8.1f tok/s%n", lp,
                    ld);
            out.printf(Locale.ROOT, "  bare NativeModel calls:        prefill %10.1f tok/s   decode %8.1f tok/s%n", bp,
                    bd);
            out.printf(Locale.ROOT, "  loader / bare:                 prefill %10.2f         decode %8.2f%n", lp / bp,
                    ld / bd);
        }
    }

    /** Text of about {@code n} tokens. */
    private static String promptOf(LoadedModel m, int n) throws Exception {
        StringBuilder sb = new StringBuilder();
        while (m.tokenize(sb.toString(), true).length < n) {
            sb.append("Once upon a time, there was a little girl named Lily. She loved to play outside. ");
        }
        return sb.toString();
    }

    private static double median(List<double[]> rows, int col) {
        double[] v = rows.stream().mapToDouble(r -> r[col]).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
