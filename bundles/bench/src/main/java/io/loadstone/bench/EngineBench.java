package io.loadstone.bench;

import io.loadstone.engine.EngineModel;
import io.loadstone.engine.EngineOptions;
import io.loadstone.engine.EngineSession;
import io.loadstone.engine.WeightQuantization;
import io.loadstone.engine.kernel.Vectors;
import io.loadstone.engine.safetensors.DType;
import io.loadstone.testsupport.SafetensorsWriter;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Prefill and decode speed on a synthetic model in TinyLlama-1.1B's shape (hidden 2048, MLP 5632,
 * 32/4 heads, vocab 32000; random weights), stored as F16 and BF16 safetensors.
 *
 * <pre>
 *   ./bench.sh [--layers 22] [--prompt 128] [--gen 32] [--threads 1,2] [--dtypes F16,BF16]
 *              [--quant NONE,INT8,NF4] [--dir /tmp/loadstone-bench] [--keep]
 * </pre>
 *
 * Not a test: speed is machine-dependent. Prints tokens/s, the ratios between thread counts,
 * and resident memory (anonymous = heap, KV cache, quantized copies; file = mapped weights
 * touched).
 */
public final class EngineBench {

    private static final System.Logger LOG = System.getLogger(EngineBench.class.getName());

    private static final int HIDDEN = 2048;
    private static final int FFN = 5632;
    private static final int HEADS = 32;
    private static final int KV_HEADS = 4;
    private static final int VOCAB = 32000;

    private EngineBench() {
    }

    public static void main(String[] args) throws Exception {
        int layers = 22;
        int prompt = 128;
        int gen = 32;
        String threads = "1," + Runtime.getRuntime().availableProcessors();
        String dtypes = "F16,BF16";
        String quant = "NONE";
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "loadstone-bench");
        boolean keep = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--layers" -> layers = Integer.parseInt(args[++i]);
                case "--prompt" -> prompt = Integer.parseInt(args[++i]);
                case "--gen" -> gen = Integer.parseInt(args[++i]);
                case "--threads" -> threads = args[++i];
                case "--dtypes" -> dtypes = args[++i];
                case "--quant" -> quant = args[++i];
                case "--dir" -> dir = Path.of(args[++i]);
                case "--keep" -> keep = true;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        LOG.log(Level.INFO, String.format("TinyLlama-1.1B shape, %d layers, prompt %d, generate %d; %d CPUs, %d float lanes, max heap %d MB",
                layers, prompt, gen, Runtime.getRuntime().availableProcessors(), Vectors.LANES, Runtime.getRuntime().maxMemory() >> 20));
        for (String dt : dtypes.split(",")) {
            DType dtype = DType.valueOf(dt.trim());
            Path folder = dir.resolve("tinyllama-shape-" + layers + "l-" + dtype.name().toLowerCase());
            if (!Files.exists(folder.resolve("model.safetensors"))) {
                long t0 = System.nanoTime();
                generate(folder, layers, dtype);
                LOG.log(Level.INFO, String.format("generated %s (%.2f GB) in %.1f s", folder, Files.size(folder.resolve("model.safetensors")) / 1e9,
                        (System.nanoTime() - t0) / 1e9));
            }
            for (String q : quant.split(",")) {
                double base = 0;
                double baseDecode = 0;
                for (String th : threads.split(",")) {
                    int n = Integer.parseInt(th.trim());
                    double[] r = run(folder, n, WeightQuantization.valueOf(q.trim()), prompt, gen, dtype.name());
                    if (base == 0) {
                        base = r[0];
                        baseDecode = r[1];
                    } else {
                        LOG.log(Level.INFO, String.format("  %s %s: %d threads vs first: prefill x%.2f, decode x%.2f", dtype, q, n,
                                r[0] / base, r[1] / baseDecode));
                    }
                }
            }
            if (!keep) {
                Files.deleteIfExists(folder.resolve("model.safetensors"));
                Files.deleteIfExists(folder.resolve("config.json"));
                Files.deleteIfExists(folder);
            }
        }
    }

    /** Returns {prefill tok/s, decode tok/s}. */
    private static double[] run(Path folder, int threads, WeightQuantization q, int prompt, int gen, String dtype) throws Exception {
        EngineOptions o = EngineOptions.builder().threads(threads).quantization(q).maxContext(prompt + gen + 64).build();
        long t0 = System.nanoTime();
        try (EngineModel m = EngineModel.open(folder, o); EngineSession s = m.newSession()) {
            double load = (System.nanoTime() - t0) / 1e9;
            SplittableRandom rnd = new SplittableRandom(42);
            int[] tokens = IntStream.range(0, prompt).map(i -> rnd.nextInt(VOCAB)).toArray();
            // The first round is warm-up (C2 compiles the kernels while it runs, which takes a
            // whole prompt's worth of work); the best of the measured rounds is reported, because
            // this machine may be shared.
            double prefill = 0;
            double decode = 0;
            for (int round = 0; round < 3; round++) {
                s.reset();
                long p0 = System.nanoTime();
                float[] logits = s.forward(tokens);
                double p = prompt / ((System.nanoTime() - p0) / 1e9);
                long d0 = System.nanoTime();
                for (int i = 0; i < gen; i++) {
                    logits = s.forward(new int[] {Measurements.argmax(logits)});
                }
                double d = gen / ((System.nanoTime() - d0) / 1e9);
                if (round > 0) {
                    prefill = Math.max(prefill, p);
                    decode = Math.max(decode, d);
                }
            }
            // The embedding is read one row per token, so it does not count as streamed weights.
            double gbPerToken = (m.weightBytes() - (long) VOCAB * HIDDEN * 2) / 1e9;
            Runtime rt = Runtime.getRuntime();
            LOG.log(Level.INFO, String.format("%s %s threads=%d: load %.2f s, prefill %.1f tok/s, decode %.2f tok/s (%.1f GB/s of weights); "
                    + "%s, heap used %d MB", dtype, q, threads, load, prefill, decode, decode * gbPerToken, Measurements.memory(),
                    (rt.totalMemory() - rt.freeMemory()) >> 20));
            return new double[] {prefill, decode};
        }
    }



    private static void generate(Path folder, int layers, DType dtype) throws IOException {
        Files.createDirectories(folder);
        Files.writeString(folder.resolve("config.json"), """
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": %d, "intermediate_size": %d,
                 "num_hidden_layers": %d, "num_attention_heads": %d, "num_key_value_heads": %d, "vocab_size": %d,
                 "max_position_embeddings": 2048, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "hidden_act": "silu",
                 "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2}
                """.formatted(HIDDEN, FFN, layers, HEADS, KV_HEADS, VOCAB));
        // A table of N(0, 0.02) values in the target type; weights are random picks from it, which
        // generates 1.1 billion values in seconds.
        short[] table = new short[4096];
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < table.length; i++) {
            float v = (float) (rnd.nextGaussian() * 0.02);
            table[i] = dtype == DType.BF16 ? Vectors.floatToBf16(v) : Float.floatToFloat16(v);
        }
        short one = dtype == DType.BF16 ? Vectors.floatToBf16(1f) : Float.floatToFloat16(1f);
        List<SafetensorsWriter.Tensor> t = new ArrayList<>();
        int kvd = KV_HEADS * (HIDDEN / HEADS);
        t.add(random("model.embed_tokens.weight", dtype, table, VOCAB, HIDDEN));
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            t.add(constant(p + "input_layernorm.weight", dtype, one, HIDDEN));
            t.add(random(p + "self_attn.q_proj.weight", dtype, table, HIDDEN, HIDDEN));
            t.add(random(p + "self_attn.k_proj.weight", dtype, table, kvd, HIDDEN));
            t.add(random(p + "self_attn.v_proj.weight", dtype, table, kvd, HIDDEN));
            t.add(random(p + "self_attn.o_proj.weight", dtype, table, HIDDEN, HIDDEN));
            t.add(constant(p + "post_attention_layernorm.weight", dtype, one, HIDDEN));
            t.add(random(p + "mlp.gate_proj.weight", dtype, table, FFN, HIDDEN));
            t.add(random(p + "mlp.up_proj.weight", dtype, table, FFN, HIDDEN));
            t.add(random(p + "mlp.down_proj.weight", dtype, table, HIDDEN, FFN));
        }
        t.add(constant("model.norm.weight", dtype, one, HIDDEN));
        t.add(random("lm_head.weight", dtype, table, VOCAB, HIDDEN));
        SafetensorsWriter.write(folder.resolve("model.safetensors"), Map.of("format", "pt"), t);
    }

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static SafetensorsWriter.Tensor random(String name, DType dtype, short[] table, long rows, long cols) {
        return new SafetensorsWriter.Tensor(name, dtype, new long[] {rows, cols}, seg -> {
            long n = rows * cols;
            int chunks = 64;
            IntStream.range(0, chunks).parallel().forEach(c -> {
                SplittableRandom r = new SplittableRandom(name.hashCode() * 31L + c);
                long from = n * c / chunks;
                long to = n * (c + 1) / chunks;
                for (long i = from; i < to; i += 5) {
                    long bits = r.nextLong();
                    for (int k = 0; k < 5 && i + k < to; k++) {
                        seg.set(U16, 2 * (i + k), table[(int) (bits >>> (12 * k)) & 4095]);
                    }
                }
            });
        });
    }

    private static SafetensorsWriter.Tensor constant(String name, DType dtype, short value, long n) {
        return new SafetensorsWriter.Tensor(name, dtype, new long[] {n}, seg -> {
            for (long i = 0; i < n; i++) {
                seg.set(U16, 2 * i, value);
            }
        });
    }

}
