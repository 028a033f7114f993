package io.loadstone.loader.llamacpp;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.SplittableRandom;

import io.loadstone.gguf.GgmlType;
import io.loadstone.gguf.GgufFile;
import io.loadstone.gguf.GgufWriter;

/**
 * Writes a Llama-shaped GGUF with random F16 weights and stories260K's tokenizer, for speed
 * measurements at realistic sizes (its text is noise). Benchmark support, not a test.
 */
final class SyntheticLlama {

    private SyntheticLlama() {
    }

    static Path write(Path file, Path tokenizerFrom, int layers, int hidden, int ffn, int heads) throws IOException {
        GgufFile tok = GgufFile.read(tokenizerFrom);
        int vocab = tok.array("tokenizer.ggml.tokens").orElseThrow().size();
        GgufWriter w = new GgufWriter().putString("general.architecture", "llama")
                .putString("general.name", "synthetic-" + layers + "x" + hidden)
                .putUInt32("llama.context_length", 4096).putUInt32("llama.embedding_length", hidden)
                .putUInt32("llama.feed_forward_length", ffn).putUInt32("llama.attention.head_count", heads)
                .putUInt32("llama.attention.head_count_kv", heads).putUInt32("llama.block_count", layers)
                .putUInt32("llama.rope.dimension_count", hidden / heads)
                .putFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        for (String k : tok.metadata().keySet()) {
            if (k.startsWith("tokenizer.")) {
                w.put(k, tok.valueType(k).orElseThrow(), tok.metadata().get(k));
            }
        }
        SplittableRandom rnd = new SplittableRandom(1);
        float scale = (float) (1 / Math.sqrt(hidden));
        w.addTensor("token_embd.weight", GgmlType.F16, new long[] {hidden, vocab}, f16(hidden * vocab, rnd, 1f));
        w.addTensor("output_norm.weight", GgmlType.F32, new long[] {hidden}, ones(hidden));
        w.addTensor("output.weight", GgmlType.F16, new long[] {hidden, vocab}, f16(hidden * vocab, rnd, scale));
        for (int l = 0; l < layers; l++) {
            String p = "blk." + l + ".";
            w.addTensor(p + "attn_norm.weight", GgmlType.F32, new long[] {hidden}, ones(hidden));
            for (String m : new String[] {"attn_q", "attn_k", "attn_v", "attn_output"}) {
                w.addTensor(p + m + ".weight", GgmlType.F16, new long[] {hidden, hidden},
                        f16(hidden * hidden, rnd, scale));
            }
            w.addTensor(p + "ffn_norm.weight", GgmlType.F32, new long[] {hidden}, ones(hidden));
            w.addTensor(p + "ffn_gate.weight", GgmlType.F16, new long[] {hidden, ffn}, f16(hidden * ffn, rnd, scale));
            w.addTensor(p + "ffn_up.weight", GgmlType.F16, new long[] {hidden, ffn}, f16(hidden * ffn, rnd, scale));
            w.addTensor(p + "ffn_down.weight", GgmlType.F16, new long[] {ffn, hidden},
                    f16(hidden * ffn, rnd, (float) (1 / Math.sqrt(ffn))));
        }
        w.write(file);
        return file;
    }

    private static byte[] f16(int n, SplittableRandom rnd, float scale) {
        ByteBuffer b = ByteBuffer.allocate(n * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            b.putShort(Float.floatToFloat16((float) (rnd.nextDouble(-1, 1) * scale)));
        }
        return b.array();
    }

    private static byte[] ones(int n) {
        ByteBuffer b = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            b.putFloat(1f);
        }
        return b.array();
    }
}
