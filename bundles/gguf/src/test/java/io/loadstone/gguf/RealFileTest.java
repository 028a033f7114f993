package io.loadstone.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The real stories260K.gguf (karpathy tinyllamas, written by llama.cpp's gguf-py). */
class RealFileTest {

    private static Path path;
    private static GgufFile gguf;

    @BeforeAll
    static void read() throws GgufException {
        path = TestFiles.stories();
        gguf = GgufFile.read(path);
    }

    @Test
    void header() throws IOException {
        assertEquals(3, gguf.version());
        assertEquals(Files.size(path), gguf.fileSize());
        assertEquals(path, gguf.path());
        assertEquals(32, gguf.alignment()); // no general.alignment key in this file
        assertTrue(gguf.valueType("general.alignment").isEmpty());
        assertTrue(GgufFile.looksLikeGguf(path));
    }

    @Test
    void metadata() {
        assertEquals("llama", gguf.architecture());
        // README: ctx 2048; stored as UINT32, read through the any-architecture accessor
        assertEquals(2048, gguf.contextLength().orElseThrow());
        assertEquals(GgufValueType.UINT32, gguf.valueType("llama.context_length").orElseThrow());
        assertEquals(Long.valueOf(2048), gguf.metadata().get("llama.context_length"));
        // this file has neither a freq_base nor a chat template (README: "the GGUF has no freq_base key")
        assertTrue(gguf.ropeFreqBase().isEmpty());
        assertTrue(gguf.chatTemplate().isEmpty());
        assertEquals("llama", gguf.string("tokenizer.ggml.model").orElseThrow());
        assertEquals(1, gguf.integer("tokenizer.ggml.bos_token_id").orElseThrow());
        assertEquals(2, gguf.integer("tokenizer.ggml.eos_token_id").orElseThrow());
        // UINT32 0xFFFFFFFF must not turn into -1
        assertEquals(4294967295L, gguf.integer("tokenizer.ggml.padding_token_id").orElseThrow());
        assertEquals(9.9999997e-6, gguf.number("llama.attention.layer_norm_rms_epsilon").orElseThrow(), 1e-12);
        assertTrue(gguf.integer("general.name").isEmpty(), "a string is not an integer");
        assertTrue(gguf.string("llama.context_length").isEmpty(), "an integer is not a string");
        assertEquals(19, gguf.metadata().size());
        assertEquals("tokenizer.ggml.tokens", gguf.metadata().keySet().iterator().next(), "file order kept");
    }

    @Test
    void vocabulary() {
        GgufArray tokens = gguf.array("tokenizer.ggml.tokens").orElseThrow();
        assertEquals(GgufValueType.STRING, tokens.elementType());
        assertEquals(512, tokens.size());
        assertEquals(List.of("<unk>", "<s>", "</s>"), tokens.subList(0, 3));
        assertEquals("<0x00>", tokens.getString(3));
        Set<Object> unique = new HashSet<>(tokens);
        assertEquals(512, unique.size(), "SentencePiece tokens are unique");
        GgufArray scores = gguf.array("tokenizer.ggml.scores").orElseThrow();
        assertEquals(GgufValueType.FLOAT32, scores.elementType());
        assertEquals(512, scores.size());
        GgufArray types = gguf.array("tokenizer.ggml.token_type").orElseThrow();
        assertEquals(GgufValueType.INT32, types.elementType());
        assertEquals(2, types.getLong(0)); // <unk> is UNKNOWN
        assertEquals(3, types.getLong(1)); // <s> is CONTROL
        assertEquals(6, types.getLong(3)); // <0x00> is BYTE
    }

    /** Every tensor's shape follows from the hyperparameters in the metadata. */
    @Test
    void tensorTableMatchesHyperparameters() {
        long embd = gguf.integer("llama.embedding_length").orElseThrow();
        long ffn = gguf.integer("llama.feed_forward_length").orElseThrow();
        long layers = gguf.integer("llama.block_count").orElseThrow();
        long heads = gguf.integer("llama.attention.head_count").orElseThrow();
        long kvHeads = gguf.integer("llama.attention.head_count_kv").orElseThrow();
        long vocab = gguf.array("tokenizer.ggml.tokens").orElseThrow().size();
        long kvDim = embd / heads * kvHeads;

        Map<String, long[]> expected = new java.util.LinkedHashMap<>();
        expected.put("token_embd.weight", new long[] {embd, vocab});
        expected.put("output_norm.weight", new long[] {embd});
        expected.put("output.weight", new long[] {embd, vocab});
        for (int b = 0; b < layers; b++) {
            String p = "blk." + b + ".";
            expected.put(p + "attn_q.weight", new long[] {embd, embd});
            expected.put(p + "attn_k.weight", new long[] {embd, kvDim});
            expected.put(p + "attn_v.weight", new long[] {embd, kvDim});
            expected.put(p + "attn_output.weight", new long[] {embd, embd});
            expected.put(p + "attn_norm.weight", new long[] {embd});
            expected.put(p + "ffn_gate.weight", new long[] {embd, ffn});
            expected.put(p + "ffn_down.weight", new long[] {ffn, embd});
            expected.put(p + "ffn_up.weight", new long[] {embd, ffn});
            expected.put(p + "ffn_norm.weight", new long[] {embd});
        }
        assertEquals(expected.size(), gguf.tensors().size());
        long params = 0;
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            GgufTensor t = gguf.tensor(e.getKey()).orElseThrow(() -> new AssertionError("missing " + e.getKey()));
            assertArrayEquals(e.getValue(), t.dims(), t.name());
            assertEquals(GgmlType.F32, t.type()); // README: all F32
            assertEquals(4 * t.elementCount(), t.byteSize());
            assertEquals(0, t.offset() % gguf.alignment());
            params += t.elementCount();
        }
        assertEquals(params, gguf.parameterCount());
        assertEquals(512, vocab);
        assertEquals(8, embd / heads); // README: head_dim 8
    }

    @Test
    void dataSectionLayout() {
        assertEquals(0, gguf.dataOffset() % gguf.alignment());
        List<GgufTensor> ts = gguf.tensors();
        GgufTensor last = ts.getLast();
        // the last tensor ends exactly at the end of the file (256-byte norm, already aligned)
        assertEquals(gguf.fileSize(), gguf.dataOffset() + last.offset() + last.byteSize());
        assertEquals(0, ts.getFirst().offset());
    }

    @Test
    void describe() {
        // 292,800 weights: 2 x 64x512 embeddings/output + 64 norm + 5 x (attention + ffn + 2 norms)
        assertEquals(2 * 64 * 512 + 64 + 5 * (2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 172 + 2 * 64),
                gguf.parameterCount());
        assertEquals("GGUF v3, architecture llama, 292.8K parameters, F32", gguf.describe());
        assertEquals(GgmlType.F32, gguf.predominantType().orElseThrow());
    }

    /**
     * The offsets point at the right bytes: tensors that the HF conversion copied bit for bit
     * (README of stories260K-hf: all but q/k, which were permuted) are equal to the
     * safetensors copy.
     */
    @Test
    void tensorDataMatchesSafetensorsCopy() throws IOException {
        Path st = TestFiles.models().resolve("stories260K-hf/model.safetensors");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isRegularFile(st), st + " missing");
        Map<String, String> names = Map.of(
                "token_embd.weight", "model.embed_tokens.weight",
                "output.weight", "lm_head.weight",
                "output_norm.weight", "model.norm.weight",
                "blk.0.attn_v.weight", "model.layers.0.self_attn.v_proj.weight",
                "blk.3.ffn_down.weight", "model.layers.3.mlp.down_proj.weight",
                "blk.4.ffn_norm.weight", "model.layers.4.post_attention_layernorm.weight");
        try (FileChannel g = FileChannel.open(path); FileChannel s = FileChannel.open(st)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            s.read(len, 0);
            int headerLen = (int) len.getLong(0);
            ByteBuffer header = ByteBuffer.allocate(headerLen);
            s.read(header, 8);
            String json = new String(header.array(), StandardCharsets.UTF_8);
            for (Map.Entry<String, String> e : names.entrySet()) {
                GgufTensor t = gguf.tensor(e.getKey()).orElseThrow();
                Matcher m = Pattern.compile(Pattern.quote("\"" + e.getValue() + "\"")
                        + ":\\{[^}]*\"data_offsets\":\\[(\\d+),(\\d+)]").matcher(json);
                assertTrue(m.find(), e.getValue());
                long begin = Long.parseLong(m.group(1));
                long end = Long.parseLong(m.group(2));
                assertEquals(t.byteSize(), end - begin, t.name());
                ByteBuffer a = ByteBuffer.allocate((int) t.byteSize());
                ByteBuffer b = ByteBuffer.allocate((int) t.byteSize());
                g.read(a, gguf.dataOffset() + t.offset());
                s.read(b, 8 + headerLen + begin);
                assertArrayEquals(b.array(), a.array(), t.name());
                assertFalse(isAllZero(a.array()), t.name());
            }
        }
    }

    private static boolean isAllZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }
}
