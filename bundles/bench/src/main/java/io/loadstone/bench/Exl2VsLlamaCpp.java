package io.loadstone.bench;

import io.loadstone.engine.exl2.Exl2Writer;
import io.loadstone.engine.safetensors.DType;
import io.loadstone.testsupport.SafetensorsWriter;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.IntStream;

/**
 * EXL2 on the Java engine against llama.cpp's nearest block formats, on the synthetic
 * TinyLlama-shaped model of {@link EngineVsLlamaCpp} (same weights): EXL2 4.0 bpw (groups of 128
 * at 5/4/3 bits, act-order-like permutation) against Q4_0 (4.5 bpw), EXL2 6.0 bpw (8/6/5)
 * against Q8_0 (8.5 bpw), the GGUFs as {@link QuantVsLlamaCpp} writes them. The engine picks
 * the EXL2 format from config.json. Embeddings and lm_head stay F16 in both. Same threads, prompt, greedy
 * decoding, F16 KV cache.
 *
 * <pre>
 *   ./bench.sh exl2 [--layers 4] [--threads 2] [--prompt 64] [--gen 16] [--rounds 2] [--dir /tmp/...] [--keep]
 * </pre>
 *
 * Prints prefill/decode tok/s, resident memory with each model open and the ratios EXL2 /
 * llama.cpp measured in this run; never pass/fail.
 */
public final class Exl2VsLlamaCpp {

    private Exl2VsLlamaCpp() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = System.out; // a command-line tool: its report goes to stdout
        BenchArgs a = BenchArgs.parse(args, new BenchArgs(4, 2, 64, 16, 2,
                Path.of(System.getProperty("java.io.tmpdir"), "loadstone-exl2-vs-llamacpp"), false));
        int layers = a.layers();
        int threads = a.threads();
        Path dir = a.dir();
        out.printf(Locale.ROOT, "TinyLlama-1.1B shape, %d layers, random weights (seed %d); %d threads, prompt %d, generate %d, "
                + "1 warm-up + best of %d rounds; %d CPUs, %s%n", layers, EngineVsLlamaCpp.SEED, threads, a.prompt(), a.gen(), a.rounds(),
                Runtime.getRuntime().availableProcessors(), QuantVsLlamaCpp.cpuModel());
        Files.createDirectories(dir);
        Path exl4 = dir.resolve("exl2-4.0-" + layers + "l");
        Path exl6 = dir.resolve("exl2-6.0-" + layers + "l");
        Path q4 = dir.resolve("model-" + layers + "l-q4_0.gguf");
        Path q8 = dir.resolve("model-" + layers + "l-q8_0.gguf");
        long t0 = System.nanoTime();
        boolean reuse = a.keep() && Files.isRegularFile(exl4.resolve("model.safetensors")) && Files.isRegularFile(exl6.resolve("model.safetensors"))
                && Files.isRegularFile(q4) && Files.isRegularFile(q8);
        if (!reuse) {
            double bpw4 = writeExl2(exl4, layers, 4);
            double bpw6 = writeExl2(exl6, layers, 6);
            out.printf(Locale.ROOT, "EXL2 q_weight bits per weight: %.3f and %.3f%n", bpw4, bpw6);
            QuantVsLlamaCpp.writeGguf(q4, layers, 4);
            QuantVsLlamaCpp.writeGguf(q8, layers, 8);
        }
        out.printf(Locale.ROOT, "%s %s in %.1f s%n", reuse ? "reused" : "wrote", dir, (System.nanoTime() - t0) / 1e9);

        SplittableRandom rnd = new SplittableRandom(42);
        int[] tokens = IntStream.range(0, a.prompt()).map(i -> 3 + rnd.nextInt(EngineVsLlamaCpp.VOCAB - 3)).toArray();
        EngineVsLlamaCpp.Result e4 = null;
        EngineVsLlamaCpp.Result e6 = null;
        EngineVsLlamaCpp.Result l4 = null;
        EngineVsLlamaCpp.Result l8 = null;
        // Alternating passes, best of each: load from elsewhere on the machine then falls on all.
        for (int pass = 1; pass <= 2; pass++) {
            EngineVsLlamaCpp.Result r = EngineVsLlamaCpp.runEngine("Java engine EXL2 4.0", exl4, threads, tokens,
                    a.gen(), a.rounds());
            e4 = e4 == null ? r : e4.best(r);
            r = EngineVsLlamaCpp.runLlamaCpp(q4, threads, tokens, a.gen(), a.rounds(), dir);
            l4 = l4 == null ? r : l4.best(r);
            r = EngineVsLlamaCpp.runEngine("Java engine EXL2 6.0", exl6, threads, tokens, a.gen(), a.rounds());
            e6 = e6 == null ? r : e6.best(r);
            r = EngineVsLlamaCpp.runLlamaCpp(q8, threads, tokens, a.gen(), a.rounds(), dir);
            l8 = l8 == null ? r : l8.best(r);
            out.printf(Locale.ROOT, "pass %d done%n", pass);
        }
        out.println();
        out.printf(Locale.ROOT, "%-28s %8s %15s %15s  %s%n", "", "load s", "prefill tok/s", "decode tok/s", "resident memory, model open");
        for (var x : List.of(List.of("EXL2 4.0 bpw (engine)", e4), List.of("Q4_0 (" + l4.name() + ")", l4),
                List.of("EXL2 6.0 bpw (engine)", e6), List.of("Q8_0 (" + l8.name() + ")", l8))) {
            EngineVsLlamaCpp.Result r = (EngineVsLlamaCpp.Result) x.get(1);
            out.printf(Locale.ROOT, "%-28s %8.2f %15.1f %15.2f  %s%n", x.get(0), r.load(), r.prefill(), r.decode(), r.rss());
        }
        out.printf(Locale.ROOT, "%-28s %8s %15.2f %15.2f%n", "EXL2 4.0 / Q4_0", "", e4.prefill() / l4.prefill(), e4.decode() / l4.decode());
        out.printf(Locale.ROOT, "%-28s %8s %15.2f %15.2f%n", "EXL2 6.0 / Q8_0", "", e6.prefill() / l8.prefill(), e6.decode() / l8.decode());
        if (!a.keep()) {
            for (Path p : List.of(exl4, exl6)) {
                for (String f : List.of("model.safetensors", "config.json")) {
                    Files.deleteIfExists(p.resolve(f));
                }
                Files.deleteIfExists(p);
            }
            Files.deleteIfExists(q4);
            Files.deleteIfExists(q8);
        }
    }

    /** The synthetic model with every layer matrix as EXL2 ({@link Exl2Writer#preset128}); returns the q_weight bpw. */
    private static double writeExl2(Path folder, int layers, int bpw) throws Exception {
        LongAdder bits = new LongAdder();
        LongAdder weights = new LongAdder();
        String config = String.format(Locale.ROOT, ", \"quantization_config\": {\"quant_method\": \"exl2\", \"version\": "
                + "\"loadstone-test-writer\", \"bits\": %d.0, \"head_bits\": 16}", bpw);
        EngineVsLlamaCpp.writeSafetensors(folder, layers, DType.F16, config, (name, m) -> {
            short[] buf = new short[m.cols()];
            float[] w = new float[m.rows() * m.cols()];
            for (int r = 0; r < m.rows(); r++) {
                EngineVsLlamaCpp.row(name, r, buf);
                for (int c = 0; c < m.cols(); c++) {
                    w[r * m.cols() + c] = Float.float16ToFloat(buf[c]);
                }
            }
            Exl2Writer.Layer l = Exl2Writer.quantize(w, m.rows(), m.cols(), Exl2Writer.preset128(m.cols(), bpw),
                    Exl2Writer.actOrder(w, m.rows(), m.cols()));
            bits.add(32L * l.qweight().length);
            weights.add((long) m.rows() * m.cols());
            List<SafetensorsWriter.Tensor> t = l.tensors(name.substring(0, name.length() - ".weight".length()), false);
            return t;
        });
        return bits.doubleValue() / weights.doubleValue();
    }
}
