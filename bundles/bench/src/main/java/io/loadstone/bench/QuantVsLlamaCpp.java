package io.loadstone.bench;

import static io.loadstone.bench.EngineVsLlamaCpp.FFN;
import static io.loadstone.bench.EngineVsLlamaCpp.HEADS;
import static io.loadstone.bench.EngineVsLlamaCpp.HIDDEN;
import static io.loadstone.bench.EngineVsLlamaCpp.KV_HEADS;
import static io.loadstone.bench.EngineVsLlamaCpp.SEED;
import static io.loadstone.bench.EngineVsLlamaCpp.VOCAB;

import io.loadstone.bench.EngineVsLlamaCpp.Matrix;
import io.loadstone.bench.EngineVsLlamaCpp.Result;
import io.loadstone.engine.kernel.Vectors;
import io.loadstone.engine.safetensors.DType;
import io.loadstone.testsupport.SafetensorsWriter;
import io.loadstone.gguf.GgmlType;
import io.loadstone.gguf.GgufWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The engine's GPTQ and AWQ layers against llama.cpp on the <em>same weights</em>: a synthetic
 * TinyLlama-1.1B-shaped model whose linear layers are symmetric 4-bit (or 8-bit) integers with
 * one scale per 128 inputs. Written as a GPTQ folder ({@code qweight}/{@code qzeros}/{@code scales}/{@code g_idx},
 * v1 zeros, packed as AutoGPTQ does), as an AutoAWQ GEMM folder, and as GGUF Q4_0 / Q8_0: a
 * Q4_0 block of 32 with scale {@code d} and values {@code q−8} is exactly a GPTQ group's slice
 * with zero 8 (Q8_0: zero 128), so all of them compute the same function. Embeddings and lm_head
 * stay F16 in every file.
 *
 * <pre>
 *   ./bench.sh quant [--layers 8] [--threads 2] [--prompt 128] [--gen 32] [--rounds 2] [--formats gptq4,awq4,gptq8]
 * </pre>
 *
 * Prints prefill/decode tok/s, the ratios engine / llama.cpp, bytes each format streams per token
 * and the GB/s that makes at the measured decode speed, against a streaming read of a buffer as
 * large as the model (the bandwidth ceiling for decode), and resident memory. Not a test.
 */
public final class QuantVsLlamaCpp {

    private static final int GROUP = 128;
    private static final int[] AWQ_ORDER = {0, 2, 4, 6, 1, 3, 5, 7};
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private QuantVsLlamaCpp() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = System.out; // a command-line tool: its report goes to stdout
        List<String> formats = new ArrayList<>(List.of("gptq4", "awq4", "gptq8"));
        BenchArgs a = BenchArgs.parse(args, new BenchArgs(8, 2, 128, 32, 2,
                Path.of(System.getProperty("java.io.tmpdir"), "loadstone-quant-vs-llamacpp"), false),
                Map.of("--formats", v -> {
                    formats.clear();
                    formats.addAll(List.of(v.split(",")));
                }));
        int layers = a.layers();
        int threads = a.threads();
        int prompt = a.prompt();
        int gen = a.gen();
        int rounds = a.rounds();
        Path dir = a.dir();
        boolean keep = a.keep();
        out.printf(Locale.ROOT, "%s; %d CPUs; %d-bit vectors (%d float lanes)%n", cpuModel(), Runtime.getRuntime().availableProcessors(),
                Vectors.F.vectorBitSize(), Vectors.LANES);
        out.printf(Locale.ROOT, "TinyLlama-1.1B shape, %d layers, symmetric integer weights, group %d (seed %d); %d threads, prompt %d, "
                + "generate %d, 1 warm-up + best of %d rounds%n", layers, GROUP, SEED, threads, prompt, gen, rounds);

        long linearParams = 0;
        long linearGroups = 0;
        for (Matrix m : EngineVsLlamaCpp.layerMatrices()) {
            linearParams += (long) m.rows() * m.cols() * layers;
            linearGroups += (long) m.rows() * (m.cols() / GROUP) * layers;
        }
        long params = linearParams + 2L * VOCAB * HIDDEN;
        double bandwidth = streamingRead(Math.max(256L << 20, linearParams / 2 + 2L * VOCAB * HIDDEN), threads);
        out.printf(Locale.ROOT, "streaming read, %d threads: %.1f GB/s%n", threads, bandwidth);

        SplittableRandom rnd = new SplittableRandom(42);
        int[] tokens = IntStream.range(0, prompt).map(i -> 3 + rnd.nextInt(VOCAB - 3)).toArray();
        List<String[]> rows = new ArrayList<>();
        for (String format : formats) {
            int bits = format.endsWith("8") ? 8 : 4;
            boolean awq = format.startsWith("awq");
            Path folder = dir.resolve(format + "-" + layers + "l");
            Path gguf = dir.resolve("model-" + layers + "l-" + (bits == 8 ? "q8_0" : "q4_0") + ".gguf");
            long t0 = System.nanoTime();
            if (!(keep && Files.isRegularFile(folder.resolve("model.safetensors")))) {
                writeFolder(folder, layers, bits, awq);
                sync(folder.resolve("model.safetensors"));
            }
            if (!(keep && Files.isRegularFile(gguf))) {
                writeGguf(gguf, layers, bits);
                sync(gguf);
            }
            out.printf(Locale.ROOT, "%s: %s (%.2f GB) and %s (%.2f GB) ready in %.1f s%n", format, folder.getFileName(),
                    Files.size(folder.resolve("model.safetensors")) / 1e9, gguf.getFileName(), Files.size(gguf) / 1e9,
                    (System.nanoTime() - t0) / 1e9);
            // Bytes each must stream per generated token: every linear layer and lm_head (the
            // embedding is read one row at a time). Engine: its packed words, fp16 scale and u8
            // zero per group; llama.cpp: Q4_0 = 18 bytes per 32, Q8_0 = 34 per 32.
            double head = 2.0 * VOCAB * HIDDEN;
            double engineBytes = linearParams * bits / 8.0 + linearGroups * 3.0 + head;
            double llamaBytes = linearParams / 32.0 * (bits == 8 ? 34 : 18) + head;
            double f16Bytes = 2.0 * params;
            Result e = null;
            Result l = null;
            for (int pass = 1; pass <= 2; pass++) {
                Result ep = EngineVsLlamaCpp.runEngine("engine " + format.toUpperCase(Locale.ROOT), folder, threads, tokens, gen, rounds);
                out.printf(Locale.ROOT, "pass %d engine %s: prefill %.1f tok/s, decode %.2f tok/s, %s%n", pass, format, ep.prefill(),
                        ep.decode(), ep.rss());
                Result lp = EngineVsLlamaCpp.runLlamaCpp(gguf, threads, tokens, gen, rounds, dir);
                out.printf(Locale.ROOT, "pass %d llama.cpp %s: prefill %.1f tok/s, decode %.2f tok/s, %s%n", pass,
                        bits == 8 ? "Q8_0" : "Q4_0", lp.prefill(), lp.decode(), lp.rss());
                e = e == null ? ep : e.best(ep);
                l = l == null ? lp : l.best(lp);
            }
            double maxDiff = 0;
            double maxAbs = 0;
            for (int i = 0; i < VOCAB; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(e.promptLogits()[i] - l.promptLogits()[i]));
                maxAbs = Math.max(maxAbs, Math.abs(l.promptLogits()[i]));
            }
            out.printf(Locale.ROOT, "same model? logits after the prompt: max |engine - llama.cpp| %.4f (max |logit| %.3f)%n", maxDiff,
                    maxAbs);
            rows.add(row(e.name(), e, engineBytes, bandwidth, f16Bytes));
            rows.add(row(l.name() + (bits == 8 ? " Q8_0" : " Q4_0"), l, llamaBytes, bandwidth, f16Bytes));
            rows.add(new String[] {"  ratio engine / llama.cpp", "", String.format(Locale.ROOT, "%.2f", e.prefill() / l.prefill()),
                String.format(Locale.ROOT, "%.2f", e.decode() / l.decode()), "", "", "", ""});
            if (!keep) {
                delete(folder);
                Files.deleteIfExists(gguf);
            }
        }
        out.println();
        out.printf(Locale.ROOT, "%-30s %7s %9s %9s %9s %8s %9s  %s%n", "", "load s", "prefill", "decode", "MB/token", "GB/s",
                "% of read", "weights / F16, resident memory");
        for (String[] r : rows) {
            out.printf(Locale.ROOT, "%-30s %7s %9s %9s %9s %8s %9s  %s%n", (Object[]) r);
        }
    }

    private static String[] row(String name, Result r, double bytes, double bandwidth, double f16Bytes) {
        double gbs = bytes * r.decode() / 1e9;
        return new String[] {name, String.format(Locale.ROOT, "%.2f", r.load()), String.format(Locale.ROOT, "%.1f", r.prefill()),
            String.format(Locale.ROOT, "%.2f", r.decode()), String.format(Locale.ROOT, "%.0f", bytes / 1e6),
            String.format(Locale.ROOT, "%.1f", gbs), String.format(Locale.ROOT, "%.0f%%", 100 * gbs / bandwidth),
            String.format(Locale.ROOT, "%.3f, %s", bytes / f16Bytes, r.rss())};
    }

    /** Best of five passes of a plain vector read over {@code bytes}, split between {@code threads} threads; GB/s. */
    static double streamingRead(long bytes, int threads) throws InterruptedException {
        VectorSpecies<Long> s = LongVector.SPECIES_PREFERRED;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment seg = arena.allocate(bytes, 64);
            seg.fill((byte) 1);
            long part = bytes / threads / s.vectorByteSize() * s.vectorByteSize();
            double best = 0;
            long[] sink = new long[threads];
            for (int pass = 0; pass < 5; pass++) {
                Thread[] ts = new Thread[threads];
                long t0 = System.nanoTime();
                for (int t = 0; t < threads; t++) {
                    int id = t;
                    ts[t] = Thread.ofPlatform().start(() -> {
                        LongVector acc = LongVector.zero(s);
                        for (long o = id * part, end = o + part; o < end; o += s.vectorByteSize()) {
                            acc = acc.add(LongVector.fromMemorySegment(s, seg, o, ByteOrder.LITTLE_ENDIAN));
                        }
                        sink[id] += acc.reduceLanes(VectorOperators.ADD);
                    });
                }
                for (Thread t : ts) {
                    t.join();
                }
                best = Math.max(best, part * threads / ((System.nanoTime() - t0) / 1e9) / 1e9);
            }
            if (sink[0] == 42) {
                System.out.print(""); // keeps the sums alive
            }
            return best;
        }
    }

    static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException e) {
            // fall through
        }
        return System.getProperty("os.arch");
    }

    private static void sync(Path file) throws IOException {
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    private static void delete(Path folder) throws IOException {
        for (String f : List.of("model.safetensors", "config.json", "quantize_config.json")) {
            Files.deleteIfExists(folder.resolve(f));
        }
        Files.deleteIfExists(folder);
    }

    // ---- the synthetic quantized weights -------------------------------------------------------

    /**
     * Row {@code row} (an output) of linear layer {@code name}: unsigned values ({@code 2^bits}
     * levels, zero at the middle) and one fp16 scale per group of 128 inputs; seeded by (name,
     * row) so every writer produces the same numbers in its own order.
     */
    static void quantRow(String name, int row, int bits, byte[] q, short[] scales) {
        SplittableRandom r = new SplittableRandom(SEED ^ (name.hashCode() * 0x9E3779B97F4A7C15L) ^ (row * 0xBF58476D1CE4E5B9L));
        int per = 64 / bits;
        for (int i = 0; i < q.length; i += per) {
            long v = r.nextLong();
            for (int k = 0; k < per && i + k < q.length; k++) {
                q[i + k] = (byte) (v >>> (bits * k));
            }
        }
        if (bits == 4) {
            for (int i = 0; i < q.length; i++) {
                q[i] &= 0xF;
            }
        }
        // Weights of standard deviation ~0.02, as the F16 bench model has.
        double base = bits == 4 ? 0.02 / 4.6 : 0.02 / 74;
        for (int g = 0; g < scales.length; g++) {
            scales[g] = Float.floatToFloat16((float) (base * (0.5 + r.nextDouble())));
        }
    }

    private static void writeFolder(Path folder, int layers, int bits, boolean awq) throws IOException {
        Files.createDirectories(folder);
        String quant = awq
                ? "{\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": %d, \"version\": \"gemm\", \"zero_point\": true}".formatted(GROUP)
                : "{\"quant_method\": \"gptq\", \"bits\": %d, \"group_size\": %d, \"desc_act\": false, \"sym\": true, \"checkpoint_format\": \"gptq\"}"
                        .formatted(bits, GROUP);
        Files.writeString(folder.resolve("config.json"), """
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": %d, "intermediate_size": %d,
                 "num_hidden_layers": %d, "num_attention_heads": %d, "num_key_value_heads": %d, "vocab_size": %d,
                 "max_position_embeddings": 2048, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "hidden_act": "silu",
                 "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float16",
                 "quantization_config": %s}
                """.formatted(HIDDEN, FFN, layers, HEADS, KV_HEADS, VOCAB, quant));
        List<SafetensorsWriter.Tensor> t = new ArrayList<>();
        t.add(EngineVsLlamaCpp.hfMatrix("model.embed_tokens.weight", VOCAB, HIDDEN, DType.F16));
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            t.add(EngineVsLlamaCpp.hfOnes(p + "input_layernorm.weight", DType.F16));
            for (Matrix m : EngineVsLlamaCpp.layerMatrices()) {
                String name = p + m.hf();
                String prefix = name.substring(0, name.length() - ".weight".length());
                if (awq) {
                    awqTensors(t, name, prefix, m.rows(), m.cols());
                } else {
                    gptqTensors(t, name, prefix, m.rows(), m.cols(), bits);
                }
            }
            t.add(EngineVsLlamaCpp.hfOnes(p + "post_attention_layernorm.weight", DType.F16));
        }
        t.add(EngineVsLlamaCpp.hfOnes("model.norm.weight", DType.F16));
        t.add(EngineVsLlamaCpp.hfMatrix("lm_head.weight", VOCAB, HIDDEN, DType.F16));
        SafetensorsWriter.write(folder.resolve("model.safetensors"), Map.of("format", "pt"), t);
    }

    /** AutoGPTQ's layout: qweight [in·bits/32, out] packed along the input, v1 zeros (zero − 1), trivial g_idx. */
    private static void gptqTensors(List<SafetensorsWriter.Tensor> t, String name, String prefix, int rows, int cols, int bits) {
        int per = 32 / bits;
        int groups = cols / GROUP;
        t.add(new SafetensorsWriter.Tensor(prefix + ".qweight", DType.I32, new long[] {cols / per, rows}, seg -> IntStream.range(0, rows)
                .parallel().forEach(o -> {
                    byte[] q = new byte[cols];
                    quantRow(name, o, bits, q, new short[groups]);
                    for (int r = 0; r < cols / per; r++) {
                        int w = 0;
                        for (int j = 0; j < per; j++) {
                            w |= (q[r * per + j] & 0xff) << (bits * j);
                        }
                        seg.set(I32, ((long) r * rows + o) * 4, w);
                    }
                })));
        int storedZero = (1 << (bits - 1)) - 1; // v1: zero − 1
        int zeroWord = 0;
        for (int j = 0; j < per; j++) {
            zeroWord |= storedZero << (bits * j);
        }
        int zw = zeroWord;
        t.add(new SafetensorsWriter.Tensor(prefix + ".qzeros", DType.I32, new long[] {groups, rows / per}, seg -> {
            for (long i = 0; i < (long) groups * rows / per; i++) {
                seg.set(I32, 4 * i, zw);
            }
        }));
        t.add(scalesTensor(name, prefix, rows, cols, bits));
        t.add(new SafetensorsWriter.Tensor(prefix + ".g_idx", DType.I32, new long[] {cols}, seg -> {
            for (int i = 0; i < cols; i++) {
                seg.set(I32, 4L * i, i / GROUP);
            }
        }));
    }

    /** AutoAWQ GEMM: qweight [in, out/8] packed along the output in its nibble order, true zeros. */
    private static void awqTensors(List<SafetensorsWriter.Tensor> t, String name, String prefix, int rows, int cols) {
        int groups = cols / GROUP;
        t.add(new SafetensorsWriter.Tensor(prefix + ".qweight", DType.I32, new long[] {cols, rows / 8}, seg -> IntStream
                .range(0, rows / 8).parallel().forEach(c -> {
                    byte[][] q = new byte[8][cols];
                    for (int k = 0; k < 8; k++) {
                        quantRow(name, 8 * c + k, 4, q[k], new short[groups]);
                    }
                    for (int i = 0; i < cols; i++) {
                        int w = 0;
                        for (int n = 0; n < 8; n++) {
                            w |= q[AWQ_ORDER[n]][i] << (4 * n);
                        }
                        seg.set(I32, ((long) i * (rows / 8) + c) * 4, w);
                    }
                })));
        t.add(new SafetensorsWriter.Tensor(prefix + ".qzeros", DType.I32, new long[] {groups, rows / 8}, seg -> {
            for (long i = 0; i < (long) groups * rows / 8; i++) {
                seg.set(I32, 4 * i, 0x88888888);
            }
        }));
        t.add(scalesTensor(name, prefix, rows, cols, 4));
    }

    private static SafetensorsWriter.Tensor scalesTensor(String name, String prefix, int rows, int cols, int bits) {
        int groups = cols / GROUP;
        return new SafetensorsWriter.Tensor(prefix + ".scales", DType.F16, new long[] {groups, rows}, seg -> IntStream.range(0, rows)
                .parallel().forEach(o -> {
                    short[] s = new short[groups];
                    quantRow(name, o, bits, new byte[cols], s);
                    for (int g = 0; g < groups; g++) {
                        seg.set(U16, ((long) g * rows + o) * 2, s[g]);
                    }
                }));
    }

    static void writeGguf(Path file, int layers, int bits) throws IOException {
        GgmlType type = bits == 8 ? GgmlType.Q8_0 : GgmlType.Q4_0;
        GgufWriter w = new GgufWriter().putString("general.architecture", "llama")
                .putString("general.name", "synthetic-tinyllama-shape-" + layers + "l-" + type)
                .putUInt32("general.file_type", bits == 8 ? 7 : 2) // MOSTLY_Q8_0 / MOSTLY_Q4_0
                .putUInt32("llama.context_length", 2048).putUInt32("llama.embedding_length", HIDDEN)
                .putUInt32("llama.feed_forward_length", FFN).putUInt32("llama.block_count", layers)
                .putUInt32("llama.attention.head_count", HEADS).putUInt32("llama.attention.head_count_kv", KV_HEADS)
                .putUInt32("llama.rope.dimension_count", HIDDEN / HEADS).putFloat32("llama.rope.freq_base", 10000f)
                .putFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f).putUInt32("llama.vocab_size", VOCAB);
        EngineVsLlamaCpp.syntheticVocabulary(w);
        w.addTensor("token_embd.weight", GgmlType.F16, new long[] {HIDDEN, VOCAB},
                EngineVsLlamaCpp.ggufMatrix("model.embed_tokens.weight", VOCAB, HIDDEN, 0));
        for (int l = 0; l < layers; l++) {
            String p = "blk." + l + ".";
            w.addTensor(p + "attn_norm.weight", GgmlType.F32, new long[] {HIDDEN}, EngineVsLlamaCpp.ggufOnes());
            for (Matrix m : EngineVsLlamaCpp.layerMatrices()) {
                w.addTensor(p + m.gguf(), type, new long[] {m.cols(), m.rows()},
                        ggufBlocks("model.layers." + l + "." + m.hf(), m.rows(), m.cols(), m.permuteHeads(), bits));
            }
            w.addTensor(p + "ffn_norm.weight", GgmlType.F32, new long[] {HIDDEN}, EngineVsLlamaCpp.ggufOnes());
        }
        w.addTensor("output_norm.weight", GgmlType.F32, new long[] {HIDDEN}, EngineVsLlamaCpp.ggufOnes());
        w.addTensor("output.weight", GgmlType.F16, new long[] {HIDDEN, VOCAB}, EngineVsLlamaCpp.ggufMatrix("lm_head.weight", VOCAB, HIDDEN, 0));
        w.write(file);
    }

    /**
     * Q4_0 (fp16 d, then 16 bytes: value j in the low nibble of byte j, value j+16 in the high one,
     * each minus 8) or Q8_0 (fp16 d, 32 signed bytes) blocks of the same rows: d is the row's
     * group scale, the values are the GPTQ values minus the symmetric zero.
     */
    private static GgufWriter.TensorData ggufBlocks(String hfName, int rows, int cols, int permuteHeads, int bits) {
        return out -> {
            byte[] q = new byte[cols];
            short[] s = new short[cols / GROUP];
            int blockBytes = bits == 8 ? 34 : 18;
            ByteBuffer bb = ByteBuffer.allocate(cols / 32 * blockBytes).order(ByteOrder.LITTLE_ENDIAN);
            for (int r = 0; r < rows; r++) {
                quantRow(hfName, EngineVsLlamaCpp.hfRowOf(r, rows, permuteHeads), bits, q, s);
                bb.clear();
                for (int b = 0; b < cols / 32; b++) {
                    bb.putShort(s[b * 32 / GROUP]);
                    int base = b * 32;
                    if (bits == 8) {
                        for (int j = 0; j < 32; j++) {
                            bb.put((byte) ((q[base + j] & 0xff) - 128));
                        }
                    } else {
                        for (int j = 0; j < 16; j++) {
                            bb.put((byte) (q[base + j] | q[base + j + 16] << 4));
                        }
                    }
                }
                bb.flip();
                while (bb.hasRemaining()) {
                    out.write(bb);
                }
            }
        };
    }
}
