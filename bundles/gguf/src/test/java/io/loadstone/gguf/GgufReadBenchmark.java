package io.loadstone.gguf;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Not a test (no timing assertions belong in tests): writes a Llama-7B-shaped GGUF file of
 * about 1 GB (8 layers of Q4_K, a 32,000-token vocabulary) with {@link GgufWriter}, then
 * compares reading and validating its header with reading the whole file.
 *
 * <pre>
 * mvn -q test-compile
 * java -cp target/classes:target/test-classes io.loadstone.gguf.GgufReadBenchmark [dir] [layers] [models-dir]
 * </pre>
 */
public final class GgufReadBenchmark {

    private GgufReadBenchmark() {
    }

    public static void main(String[] args) throws IOException {
        PrintStream out = System.out; // a command-line tool: its report goes to stdout
        Path dir = Path.of(args.length > 0 ? args[0] : System.getProperty("java.io.tmpdir"));
        int layers = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        Path file = dir.resolve("gguf-benchmark.gguf");
        try {
            long t0 = System.nanoTime();
            GgufWriter w = llamaLike(layers);
            w.write(file);
            double writeS = (System.nanoTime() - t0) / 1e9;
            long size = Files.size(file);
            out.printf(Locale.ROOT, "wrote %s: %,d bytes, %d tensors in %.2f s (%.0f MB/s)%n", file.getFileName(),
                    size, w.tensors().size(), writeS, size / 1e6 / writeS);

            double headerMs = medianMs(() -> GgufFile.read(file), 200);
            GgufFile f = GgufFile.read(file);
            out.printf(Locale.ROOT, "%s%n", f.describe());
            out.printf(Locale.ROOT, "header region %,d bytes (%.2f%% of the file)%n", f.dataOffset(),
                    100.0 * f.dataOffset() / size);
            double fullMs = medianMs(() -> readAll(file), 3);
            out.printf(Locale.ROOT, "GgufFile.read (validate header):   %8.3f ms (median of 200)%n", headerMs);
            out.printf(Locale.ROOT, "read whole file (page cache warm): %8.1f ms (median of 3)%n", fullMs);
            out.printf(Locale.ROOT, "ratio whole file / header:         %8.0fx%n", fullMs / headerMs);

            Path stories = Path.of(args.length > 2 ? args[2] : "../../../shared/models").resolve("stories260K.gguf");
            if (Files.isRegularFile(stories)) {
                out.printf(Locale.ROOT, "stories260K.gguf GgufFile.read:    %8.3f ms (median of 200)%n",
                        medianMs(() -> GgufFile.read(stories), 200));
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** A Llama-2-7B-shaped table (hidden 4096, ffn 11008, vocab 32000) with {@code layers} layers. */
    static GgufWriter llamaLike(int layers) {
        int vocab = 32_000;
        List<String> tokens = new ArrayList<>(vocab);
        float[] scores = new float[vocab];
        int[] types = new int[vocab];
        for (int i = 0; i < vocab; i++) {
            tokens.add(i < 3 ? List.of("<unk>", "<s>", "</s>").get(i) : "\u2581tok" + i);
            scores[i] = -i;
            types[i] = i < 3 ? 3 : 1;
        }
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", "llama")
                .putString("general.name", "benchmark")
                .putUInt32("llama.context_length", 4096)
                .putUInt32("llama.embedding_length", 4096)
                .putUInt32("llama.block_count", layers)
                .putUInt32("llama.feed_forward_length", 11008)
                .putFloat32("llama.rope.freq_base", 10000f)
                .putString("tokenizer.ggml.model", "llama")
                .putArray("tokenizer.ggml.tokens", GgufArray.ofStrings(tokens))
                .putArray("tokenizer.ggml.scores", GgufArray.ofFloat32(scores))
                .putArray("tokenizer.ggml.token_type", GgufArray.ofInt32(types))
                .putUInt32("general.quantization_version", 2);
        ByteBuffer chunk = ByteBuffer.allocateDirect(8 << 20);
        byte[] fill = new byte[chunk.capacity()];
        Arrays.fill(fill, (byte) 0x5A);
        chunk.put(fill).flip();
        addQ4K(w, "token_embd.weight", new long[] {4096, vocab}, chunk);
        for (int b = 0; b < layers; b++) {
            String p = "blk." + b + ".";
            for (String n : new String[] {"attn_q", "attn_k", "attn_v", "attn_output"}) {
                addQ4K(w, p + n + ".weight", new long[] {4096, 4096}, chunk);
            }
            addQ4K(w, p + "ffn_gate.weight", new long[] {4096, 11008}, chunk);
            addQ4K(w, p + "ffn_up.weight", new long[] {4096, 11008}, chunk);
            addQ4K(w, p + "ffn_down.weight", new long[] {11008, 4096}, chunk);
            w.addTensor(p + "attn_norm.weight", GgmlType.F32, new long[] {4096}, new byte[4 * 4096]);
            w.addTensor(p + "ffn_norm.weight", GgmlType.F32, new long[] {4096}, new byte[4 * 4096]);
        }
        w.addTensor("output_norm.weight", GgmlType.F32, new long[] {4096}, new byte[4 * 4096]);
        addQ4K(w, "output.weight", new long[] {4096, vocab}, chunk);
        return w;
    }

    private static void addQ4K(GgufWriter w, String name, long[] dims, ByteBuffer chunk) {
        long bytes = GgmlType.Q4_K.byteSize(dims[0] * dims[1]);
        w.addTensor(name, GgmlType.Q4_K, dims, out -> {
            long left = bytes;
            while (left > 0) {
                ByteBuffer b = chunk.duplicate();
                b.limit((int) Math.min(b.capacity(), left));
                left -= b.remaining();
                while (b.hasRemaining()) {
                    out.write(b);
                }
            }
        });
    }

    private static Object readAll(Path file) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(8 << 20);
        long total = 0;
        try (FileChannel ch = FileChannel.open(file)) {
            int n;
            while ((n = ch.read(buf.clear())) >= 0) {
                total += n;
            }
        }
        return total;
    }

    @FunctionalInterface
    private interface Action {
        Object run() throws IOException;
    }

    private static double medianMs(Action a, int runs) throws IOException {
        for (int i = 0; i < Math.min(runs, 20); i++) {
            a.run(); // warm-up: JIT and page cache
        }
        double[] ms = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t = System.nanoTime();
            a.run();
            ms[i] = (System.nanoTime() - t) / 1e6;
        }
        Arrays.sort(ms);
        return ms[runs / 2];
    }
}
