package io.loadstone.bench;

import io.loadstone.engine.EngineModel;
import io.loadstone.engine.EngineOptions;
import io.loadstone.engine.EngineSession;
import io.loadstone.engine.KvCacheType;
import io.loadstone.engine.kernel.Vectors;
import io.loadstone.engine.safetensors.DType;
import io.loadstone.testsupport.SafetensorsWriter;
import io.loadstone.gguf.GgmlType;
import io.loadstone.gguf.GgufArray;
import io.loadstone.gguf.GgufWriter;
import io.loadstone.llamacpp.CacheType;
import io.loadstone.llamacpp.ContextParams;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.ModelParams;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.llamacpp.SamplerParams;
import io.loadstone.llamacpp.TokenSampler;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * The pure-Java engine against llama.cpp on one synthetic model: TinyLlama-1.1B's shape (hidden
 * 2048, MLP 5632, 32/4 heads, vocab 32000) with random F16 weights, written once as a Hugging Face
 * safetensors folder (for the engine), again rounded to bfloat16 (the engine's BF16 path), and
 * once as a GGUF (for llama.cpp) from the same weights.
 * Both run in this process with the same thread count, prompt, number of generated tokens, greedy
 * decoding and an F16 KV cache.
 *
 * <pre>
 *   ./bench.sh [--layers 8] [--threads 2] [--prompt 128] [--gen 32] [--rounds 2] [--dir /tmp/...] [--keep]
 * </pre>
 *
 * Not a test: speed depends on the machine. Prints prefill/decode tok/s, resident memory with each
 * model open, and the ratios engine / llama.cpp.
 */
public final class EngineVsLlamaCpp {

    static final int HIDDEN = 2048;
    static final int FFN = 5632;
    static final int HEADS = 32;
    static final int KV_HEADS = 4;
    static final int HEAD_DIM = HIDDEN / HEADS;
    static final int VOCAB = 32000;
    static final long SEED = 20261123L;

    /** The binding the fragment's library is built for (its Loadstone-Native-Build header). */
    private static final String LLAMA_BUILD = "llama.cpp-b4916";
    private static final String LLAMA_LIB = "native/linux-x86_64/libjllama.so";

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One engine's results: tok/s and resident memory (MB) while its model was open. */
    record Result(String name, double load, double prefill, double decode, String rss, int[] generated,
            float[] promptLogits) {

        /** The faster prefill and decode of two runs (load time and memory of the first). */
        Result best(Result o) {
            return new Result(name, Math.min(load, o.load), Math.max(prefill, o.prefill), Math.max(decode, o.decode), rss,
                    generated, promptLogits);
        }
    }

    private EngineVsLlamaCpp() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = System.out; // a command-line tool: its report goes to stdout
        BenchArgs a = BenchArgs.parse(args, new BenchArgs(8, 2, 128, 32, 2,
                Path.of(System.getProperty("java.io.tmpdir"), "loadstone-engine-vs-llamacpp"), false));
        int layers = a.layers();
        int threads = a.threads();
        int prompt = a.prompt();
        int gen = a.gen();
        int rounds = a.rounds();
        Path dir = a.dir();
        boolean keep = a.keep();
        out.printf(Locale.ROOT, "TinyLlama-1.1B shape, %d layers, random F16 weights (seed %d); %d threads, prompt %d, "
                + "generate %d, 1 warm-up + best of %d rounds; %d CPUs%n", layers, SEED, threads, prompt, gen, rounds,
                Runtime.getRuntime().availableProcessors());

        Path hf = dir.resolve("hf-" + layers + "l");
        Path hfBf16 = dir.resolve("hf-" + layers + "l-bf16");
        Path gguf = dir.resolve("model-" + layers + "l-f16.gguf");
        long t0 = System.nanoTime();
        // --keep leaves the files for the next run, which then measures in a JVM that has not
        // written them (the writer's own use of memory segments could otherwise shape the JIT's
        // profile of the kernels).
        boolean reuse = keep && Files.isRegularFile(hf.resolve("model.safetensors"))
                && Files.isRegularFile(hfBf16.resolve("model.safetensors")) && Files.isRegularFile(gguf);
        if (!reuse) {
            writeSafetensors(hf, layers, DType.F16);
            // The same values rounded to bfloat16: the engine's other half-precision path.
            writeSafetensors(hfBf16, layers, DType.BF16);
            writeGguf(gguf, layers);
        }
        // Flush both files now: otherwise the kernel writes the dirty pages back while the first
        // contender runs (measured: the engine, which ran first, lost a third of its decode speed).
        for (Path f : List.of(hf.resolve("model.safetensors"), hfBf16.resolve("model.safetensors"), gguf)) {
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f,
                    java.nio.file.StandardOpenOption.WRITE)) {
                ch.force(true);
            }
        }
        out.printf(Locale.ROOT, (reuse ? "reused" : "wrote") + " %s (%.2f GB) and %s (%.2f GB) in %.1f s%n", hf,
                Files.size(hf.resolve("model.safetensors")) / 1e9, gguf, Files.size(gguf) / 1e9,
                (System.nanoTime() - t0) / 1e9);

        // The same random prompt for both: token ids, not text, so no tokenizer takes part.
        SplittableRandom rnd = new SplittableRandom(42);
        int[] tokens = IntStream.range(0, prompt).map(i -> 3 + rnd.nextInt(VOCAB - 3)).toArray();

        // Two passes, alternating, best of each: whatever else the machine does at one moment
        // (another process, page cache) then does not fall on one contender only.
        Result engine = null;
        Result engineBf16 = null;
        Result llama = null;
        for (int pass = 1; pass <= 2; pass++) {
            Result e = runEngine("Java engine F16", hf, threads, tokens, gen, rounds);
            out.printf(Locale.ROOT, "pass %d engine:    prefill %.1f tok/s, decode %.2f tok/s, %s%n", pass, e.prefill,
                    e.decode, e.rss);
            Result eb = runEngine("Java engine BF16", hfBf16, threads, tokens, gen, rounds);
            out.printf(Locale.ROOT, "pass %d engine BF16: prefill %.1f tok/s, decode %.2f tok/s, %s%n", pass,
                    eb.prefill, eb.decode, eb.rss);
            engineBf16 = engineBf16 == null ? eb : engineBf16.best(eb);
            Result l = runLlamaCpp(gguf, threads, tokens, gen, rounds, dir);
            out.printf(Locale.ROOT, "pass %d llama.cpp: prefill %.1f tok/s, decode %.2f tok/s, %s%n", pass, l.prefill,
                    l.decode, l.rss);
            engine = engine == null ? e : engine.best(e);
            llama = llama == null ? l : llama.best(l);
        }

        out.println();
        out.printf(Locale.ROOT, "%-22s %8s %15s %15s  %s%n", "", "load s", "prefill tok/s", "decode tok/s",
                "resident memory, model open");
        for (Result r : List.of(engine, engineBf16, llama)) {
            out.printf(Locale.ROOT, "%-22s %8.2f %15.1f %15.2f  %s%n", r.name, r.load, r.prefill, r.decode, r.rss);
        }
        out.printf(Locale.ROOT, "%-22s %8s %15.2f %15.2f%n", "engine / llama.cpp", "", engine.prefill / llama.prefill,
                engine.decode / llama.decode);
        out.printf(Locale.ROOT, "%-22s %8s %15.2f %15.2f%n", "engine BF16 / llama.cpp", "",
                engineBf16.prefill / llama.prefill, engineBf16.decode / llama.decode);
        // Not a speed figure: a check that both ran the same model (the q/k permutation, the
        // weights), which would make the timings incomparable if wrong. F16 rounding in different
        // places lets near-tied greedy picks of random weights diverge late in the sequence.
        double maxDiff = 0;
        double maxAbs = 0;
        for (int i = 0; i < VOCAB; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(engine.promptLogits[i] - llama.promptLogits[i]));
            maxAbs = Math.max(maxAbs, Math.abs(llama.promptLogits[i]));
        }
        int same = 0;
        while (same < gen && engine.generated[same] == llama.generated[same]) {
            same++;
        }
        out.printf(Locale.ROOT, "same model? logits after the prompt: max |engine - llama.cpp| %.4f (max |logit| %.3f); "
                + "greedy tokens identical for the first %d of %d%n", maxDiff, maxAbs, same, gen);

        if (!keep) {
            Files.deleteIfExists(hf.resolve("model.safetensors"));
            Files.deleteIfExists(hf.resolve("config.json"));
            Files.deleteIfExists(hf);
            Files.deleteIfExists(hfBf16.resolve("model.safetensors"));
            Files.deleteIfExists(hfBf16.resolve("config.json"));
            Files.deleteIfExists(hfBf16);
            Files.deleteIfExists(gguf);
        }
    }

    static Result runEngine(String name, Path folder, int threads, int[] tokens, int gen, int rounds) throws Exception {
        EngineOptions o = EngineOptions.builder().threads(threads).kvCache(KvCacheType.F16)
                .maxContext(tokens.length + gen + 16).build();
        long t0 = System.nanoTime();
        try (EngineModel m = EngineModel.open(folder, o); EngineSession s = m.newSession()) {
            double load = (System.nanoTime() - t0) / 1e9;
            double[] best = new double[2];
            int[] generated = new int[gen];
            float[] promptLogits = null;
            // Round 0 is warm-up: C2 compiles the kernels during it.
            for (int round = 0; round <= rounds; round++) {
                s.reset();
                long p0 = System.nanoTime();
                float[] logits = s.forward(tokens);
                long p1 = System.nanoTime();
                promptLogits = logits;
                for (int i = 0; i < gen; i++) {
                    generated[i] = Measurements.argmax(logits);
                    logits = s.forward(new int[] {generated[i]});
                }
                long p2 = System.nanoTime();
                if (round > 0) {
                    best[0] = Math.max(best[0], tokens.length * 1e9 / (p1 - p0));
                    best[1] = Math.max(best[1], gen * 1e9 / (p2 - p1));
                }
            }
            return new Result(name, load, best[0], best[1], Measurements.memory(), generated, promptLogits);
        }
    }

    static Result runLlamaCpp(Path gguf, int threads, int[] tokens, int gen, int rounds, Path dir)
            throws Exception {
        Path lib = extractLibrary(dir);
        try (LlamaLibrary library = LlamaLibrary.load(lib, LLAMA_BUILD)) {
            // Default n_batch (512) takes the whole prompt in one decode call, as the engine does.
            ContextParams cp = ContextParams.defaults().withContext(tokens.length + gen + 16)
                    .withThreads(threads, threads).withCache(CacheType.F16, CacheType.F16);
            long t0 = System.nanoTime();
            try (NativeModel nm = library.runtime().open(gguf, ModelParams.defaults(), cp)) {
                double load = (System.nanoTime() - t0) / 1e9;
                double[] best = new double[2];
                int[] generated = new int[gen];
                float[] promptLogits = null;
                for (int round = 0; round <= rounds; round++) {
                    nm.clearKvCache();
                    long p0 = System.nanoTime();
                    nm.decode(tokens, 0);
                    long p1 = System.nanoTime();
                    promptLogits = nm.lastLogits();
                    // A fresh greedy sampler per round: sampling state must not carry over.
                    try (TokenSampler sampler = nm.newSampler(SamplerParams.greedyDecoding())) {
                        for (int i = 0; i < gen; i++) {
                            generated[i] = sampler.sample();
                            nm.decode(new int[] {generated[i]}, tokens.length + i);
                        }
                    }
                    long p2 = System.nanoTime();
                    if (round > 0) {
                        best[0] = Math.max(best[0], tokens.length * 1e9 / (p1 - p0));
                        best[1] = Math.max(best[1], gen * 1e9 / (p2 - p1));
                    }
                }
                return new Result(library.runtime().buildName(), load, best[0], best[1], Measurements.memory(), generated,
                        promptLogits);
            }
        }
    }

    /** Copies libjllama.so out of the fragment jar on the class path: dlopen needs a file. */
    static Path extractLibrary(Path dir) throws IOException {
        Path lib = dir.resolve("libjllama.so");
        try (InputStream in = ClassLoader.getSystemResourceAsStream(LLAMA_LIB)) {
            if (in == null) {
                throw new IOException(LLAMA_LIB + " is not on the class path (the llamacpp-linux-x86_64 fragment jar)");
            }
            Files.copy(in, lib, StandardCopyOption.REPLACE_EXISTING);
        }
        return lib;
    }



    // ---- the synthetic weights ----------------------------------------------------------------

    /**
     * Weights are picks from a table of N(0, 0.02) halves; every row is seeded by (tensor, row),
     * so either writer can produce any row on its own - the GGUF writer needs q/k rows in another
     * order - and the two files hold the same numbers.
     */
    private static final short[] TABLE = table();

    private static short[] table() {
        short[] t = new short[4096];
        SplittableRandom r = new SplittableRandom(SEED);
        for (int i = 0; i < t.length; i++) {
            t[i] = Float.floatToFloat16((float) (r.nextGaussian() * 0.02));
        }
        return t;
    }

    /** Row {@code row} (of {@code cols} F16 values) of the Hugging Face tensor {@code hfName}. */
    static void row(String hfName, long row, short[] dst) {
        SplittableRandom r = new SplittableRandom(SEED ^ (hfName.hashCode() * 0x9E3779B97F4A7C15L) ^ (row * 0xBF58476D1CE4E5B9L));
        for (int i = 0; i < dst.length; i += 5) {
            long bits = r.nextLong();
            for (int k = 0; k < 5 && i + k < dst.length; k++) {
                dst[i + k] = TABLE[(int) (bits >>> (12 * k)) & 4095];
            }
        }
    }

    /** The matrices of one layer: HF name suffix, GGUF name suffix, rows (out), cols (in), heads to permute (0: none). */
    record Matrix(String hf, String gguf, int rows, int cols, int permuteHeads) {}

    static List<Matrix> layerMatrices() {
        int kvd = KV_HEADS * HEAD_DIM;
        return List.of(new Matrix("self_attn.q_proj.weight", "attn_q.weight", HIDDEN, HIDDEN, HEADS),
                new Matrix("self_attn.k_proj.weight", "attn_k.weight", kvd, HIDDEN, KV_HEADS),
                new Matrix("self_attn.v_proj.weight", "attn_v.weight", kvd, HIDDEN, 0),
                new Matrix("self_attn.o_proj.weight", "attn_output.weight", HIDDEN, HIDDEN, 0),
                new Matrix("mlp.gate_proj.weight", "ffn_gate.weight", FFN, HIDDEN, 0),
                new Matrix("mlp.up_proj.weight", "ffn_up.weight", FFN, HIDDEN, 0),
                new Matrix("mlp.down_proj.weight", "ffn_down.weight", HIDDEN, FFN, 0));
    }

    private static void writeSafetensors(Path folder, int layers, DType dtype) throws IOException {
        writeSafetensors(folder, layers, dtype, "", (name, m) -> List.of(hfMatrix(name, m.rows, m.cols, dtype)));
    }

    /**
     * @param extraConfig JSON members appended to config.json (", \"quantization_config\": {…}"), or ""
     * @param linear      the tensors that stand for one layer matrix (HF name of its weight, its shape)
     */
    static void writeSafetensors(Path folder, int layers, DType dtype, String extraConfig,
            java.util.function.BiFunction<String, Matrix, List<SafetensorsWriter.Tensor>> linear) throws IOException {
        Files.createDirectories(folder);
        Files.writeString(folder.resolve("config.json"), """
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": %d, "intermediate_size": %d,
                 "num_hidden_layers": %d, "num_attention_heads": %d, "num_key_value_heads": %d, "vocab_size": %d,
                 "max_position_embeddings": 2048, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "hidden_act": "silu",
                 "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "%s"%s}
                """.formatted(HIDDEN, FFN, layers, HEADS, KV_HEADS, VOCAB, dtype == DType.BF16 ? "bfloat16" : "float16",
                extraConfig));
        List<SafetensorsWriter.Tensor> t = new ArrayList<>();
        t.add(hfMatrix("model.embed_tokens.weight", VOCAB, HIDDEN, dtype));
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            t.add(hfOnes(p + "input_layernorm.weight", dtype));
            for (Matrix m : layerMatrices()) {
                t.addAll(linear.apply(p + m.hf, m));
            }
            t.add(hfOnes(p + "post_attention_layernorm.weight", dtype));
        }
        t.add(hfOnes("model.norm.weight", dtype));
        t.add(hfMatrix("lm_head.weight", VOCAB, HIDDEN, dtype));
        SafetensorsWriter.write(folder.resolve("model.safetensors"), Map.of("format", "pt"), t);
    }

    static SafetensorsWriter.Tensor hfMatrix(String name, int rows, int cols, DType dtype) {
        return new SafetensorsWriter.Tensor(name, dtype, new long[] {rows, cols}, seg -> IntStream.range(0, rows)
                .parallel().forEach(r -> {
                    short[] buf = new short[cols];
                    row(name, r, buf);
                    if (dtype == DType.BF16) {
                        for (int c = 0; c < cols; c++) {
                            buf[c] = Vectors.floatToBf16(Float.float16ToFloat(buf[c]));
                        }
                    }
                    MemorySegment.copy(buf, 0, seg, U16, (long) r * cols * 2, cols);
                }));
    }

    static SafetensorsWriter.Tensor hfOnes(String name, DType dtype) {
        short one = dtype == DType.BF16 ? Vectors.floatToBf16(1f) : Float.floatToFloat16(1f);
        return new SafetensorsWriter.Tensor(name, dtype, new long[] {HIDDEN}, seg -> {
            for (long i = 0; i < HIDDEN; i++) {
                seg.set(U16, 2 * i, one);
            }
        });
    }

    static void writeGguf(Path file, int layers) throws IOException {
        GgufWriter w = new GgufWriter().putString("general.architecture", "llama")
                .putString("general.name", "synthetic-tinyllama-shape-" + layers + "l")
                .putUInt32("general.file_type", 1) // MOSTLY_F16
                .putUInt32("llama.context_length", 2048).putUInt32("llama.embedding_length", HIDDEN)
                .putUInt32("llama.feed_forward_length", FFN).putUInt32("llama.block_count", layers)
                .putUInt32("llama.attention.head_count", HEADS).putUInt32("llama.attention.head_count_kv", KV_HEADS)
                .putUInt32("llama.rope.dimension_count", HEAD_DIM).putFloat32("llama.rope.freq_base", 10000f)
                .putFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f).putUInt32("llama.vocab_size", VOCAB);
        syntheticVocabulary(w);
        // GGUF dims are {cols, rows} (fastest first) with the same row-major bytes as the HF tensor.
        w.addTensor("token_embd.weight", GgmlType.F16, new long[] {HIDDEN, VOCAB},
                ggufMatrix("model.embed_tokens.weight", VOCAB, HIDDEN, 0));
        for (int l = 0; l < layers; l++) {
            String p = "blk." + l + ".";
            w.addTensor(p + "attn_norm.weight", GgmlType.F32, new long[] {HIDDEN}, ggufOnes());
            for (Matrix m : layerMatrices()) {
                w.addTensor(p + m.gguf, GgmlType.F16, new long[] {m.cols, m.rows},
                        ggufMatrix("model.layers." + l + "." + m.hf, m.rows, m.cols, m.permuteHeads));
            }
            w.addTensor(p + "ffn_norm.weight", GgmlType.F32, new long[] {HIDDEN}, ggufOnes());
        }
        w.addTensor("output_norm.weight", GgmlType.F32, new long[] {HIDDEN}, ggufOnes());
        w.addTensor("output.weight", GgmlType.F16, new long[] {HIDDEN, VOCAB},
                ggufMatrix("lm_head.weight", VOCAB, HIDDEN, 0));
        w.write(file);
    }

    /**
     * A SentencePiece-style ("llama") vocabulary of the right size: unk/bos/eos, the 256 byte
     * tokens llama.cpp looks up (e.g. the newline byte), then made-up pieces. Its text is
     * meaningless; only token ids are fed in.
     */
    static void syntheticVocabulary(GgufWriter w) {
        List<String> tokens = new ArrayList<>(VOCAB);
        float[] scores = new float[VOCAB];
        int[] types = new int[VOCAB];
        tokens.add("<unk>");
        types[0] = 2; // UNKNOWN
        tokens.add("<s>");
        types[1] = 3; // CONTROL
        tokens.add("</s>");
        types[2] = 3;
        for (int b = 0; b < 256; b++) {
            types[tokens.size()] = 6; // BYTE
            tokens.add(String.format(Locale.ROOT, "<0x%02X>", b));
        }
        while (tokens.size() < VOCAB) {
            int id = tokens.size();
            types[id] = 1; // NORMAL
            scores[id] = -id;
            tokens.add("\u2581t" + id);
        }
        w.putString("tokenizer.ggml.model", "llama").putArray("tokenizer.ggml.tokens", GgufArray.ofStrings(tokens))
                .putArray("tokenizer.ggml.scores", GgufArray.ofFloat32(scores))
                .putArray("tokenizer.ggml.token_type", GgufArray.ofInt32(types))
                .putUInt32("tokenizer.ggml.unknown_token_id", 0).putUInt32("tokenizer.ggml.bos_token_id", 1)
                .putUInt32("tokenizer.ggml.eos_token_id", 2);
    }

    /**
     * Streams the HF tensor's rows, for q/k in the order llama.cpp's converter gives them: it
     * permutes each head's rows from HF's rotate-half RoPE layout (first half, second half) to
     * ggml's interleaved pairs, GGUF row h*d + 2i + j = HF row h*d + j*d/2 + i. With it both
     * programs compute the same function.
     */
    static GgufWriter.TensorData ggufMatrix(String hfName, int rows, int cols, int permuteHeads) {
        return out -> {
            short[] buf = new short[cols];
            ByteBuffer bb = ByteBuffer.allocate(cols * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (int r = 0; r < rows; r++) {
                row(hfName, hfRowOf(r, rows, permuteHeads), buf);
                bb.clear();
                bb.asShortBuffer().put(buf);
                bb.limit(cols * 2);
                while (bb.hasRemaining()) {
                    out.write(bb);
                }
            }
        };
    }

    /** The HF row that GGUF row {@code r} of a q/k matrix holds ({@code permuteHeads} 0: the same row). */
    static int hfRowOf(int r, int rows, int permuteHeads) {
        if (permuteHeads == 0) {
            return r;
        }
        int d = rows / permuteHeads;
        int h = r / d;
        int i = (r % d) / 2;
        int j = r % 2;
        return h * d + j * (d / 2) + i;
    }

    static GgufWriter.TensorData ggufOnes() {
        return out -> {
            ByteBuffer b = ByteBuffer.allocate(HIDDEN * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < HIDDEN; i++) {
                b.putFloat(1f);
            }
            b.flip();
            while (b.hasRemaining()) {
                out.write(b);
            }
        };
    }
}
