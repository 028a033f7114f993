package io.loadstone.gguf;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The semantic checks, each on a copy of stories260K with one meaning broken (values that
 * made llama.cpp abort the process in the fuzzing the issue reported), and every real model
 * of the shared folder passing.
 */
class ModelCheckTest {

    @TempDir
    Path dir;

    /** One metadata entry: its type and value. */
    record Entry(GgufValueType type, Object value) {
    }

    /** A copy of stories260K (zeroed weights) with {@code edit} applied to its metadata and tensor types. */
    private Path variant(String name, Consumer<Map<String, Entry>> edit, Map<String, GgmlType> retype)
            throws IOException {
        GgufFile src = GgufFile.read(TestFiles.stories());
        Map<String, Entry> meta = new LinkedHashMap<>();
        src.metadata().forEach((k, v) -> meta.put(k, new Entry(src.valueType(k).orElseThrow(), v)));
        edit.accept(meta);
        GgufWriter w = new GgufWriter();
        meta.forEach((k, e) -> w.put(k, e.type(), e.value()));
        for (GgufTensor t : src.tensors()) {
            GgmlType type = retype.getOrDefault(t.name(), t.type());
            long[] dims = t.dims().clone();
            w.addTensor(t.name(), type, dims, new byte[(int) type.byteSize(t.elementCount())]);
        }
        Path file = dir.resolve(name + ".gguf");
        w.write(file);
        return file;
    }

    private Path variant(String name, Consumer<Map<String, Entry>> edit) throws IOException {
        return variant(name, edit, Map.of());
    }

    private static void refused(Path file, String... words) throws IOException {
        GgufFile g = GgufFile.read(file);
        GgufException e = assertThrows(GgufException.class, () -> GgufModelCheck.check(g));
        TestFiles.wellFormed(e, file);
        TestFiles.assertMessage(e, words);
    }

    private static List<String> tokens(Map<String, Entry> m) {
        List<String> out = new ArrayList<>();
        GgufArray a = (GgufArray) m.get("tokenizer.ggml.tokens").value();
        for (int i = 0; i < a.size(); i++) {
            out.add(a.getString(i));
        }
        return out;
    }

    @Test
    void theRealModelsPass() throws IOException {
        try (var files = Files.walk(TestFiles.models(), 2)) {
            for (Path p : files.filter(f -> f.toString().endsWith(".gguf")).toList()) {
                GgufFile g = GgufFile.read(p);
                if (!"adapter".equals(g.string("general.type").orElse(""))) {
                    assertDoesNotThrow(() -> GgufModelCheck.check(g), p.toString());
                }
            }
        }
        assertDoesNotThrow(() -> GgufModelCheck.check(GgufFile.read(variant("same", m -> { }))));
    }

    @Test
    void hyperParameters() throws IOException {
        refused(variant("layers0", m -> m.put("llama.block_count", new Entry(GgufValueType.UINT32, 0L))),
                "llama.block_count is 0");
        refused(variant("nolayers", m -> m.remove("llama.block_count")), "llama.block_count is missing");
        refused(variant("heads0", m -> m.put("llama.attention.head_count", new Entry(GgufValueType.UINT32, 0L))),
                "llama.attention.head_count is 0");
        refused(variant("kv3", m -> m.put("llama.attention.head_count_kv", new Entry(GgufValueType.UINT32, 3L))),
                "head_count_kv is 3");
        refused(variant("epsneg", m -> m.put("llama.attention.layer_norm_rms_epsilon", new Entry(
                GgufValueType.FLOAT32, -1e-5f))), "layer_norm_rms_epsilon is -1.0E-5");
        refused(variant("epsnan", m -> m.put("llama.attention.layer_norm_rms_epsilon", new Entry(
                GgufValueType.FLOAT32, Float.NaN))), "layer_norm_rms_epsilon is NaN");
        refused(variant("noeps", m -> m.remove("llama.attention.layer_norm_rms_epsilon")),
                "layer_norm_rms_epsilon is missing");
        refused(variant("experts", m -> m.put("llama.expert_count", new Entry(GgufValueType.UINT32, 4_000_000_000L))),
                "llama.expert_count is 4000000000");
        refused(variant("used", m -> {
            m.put("llama.expert_count", new Entry(GgufValueType.UINT32, 4L));
            m.put("llama.expert_used_count", new Entry(GgufValueType.UINT32, 5L));
        }), "expert_used_count is 5");
        refused(variant("align", m -> m.put("general.alignment", new Entry(GgufValueType.UINT32, 16L))),
                "general.alignment is 16");
        refused(variant("rope", m -> m.put("llama.rope.dimension_count", new Entry(GgufValueType.UINT32, 3L))),
                "llama.rope.dimension_count is 3; rotary embeddings need an even number");
        refused(variant("noarch", m -> m.remove("general.architecture")), "general.architecture is missing");
    }

    @Test
    void tokenizer() throws IOException {
        refused(variant("tok", m -> m.put("tokenizer.ggml.model", new Entry(GgufValueType.STRING, "llamax"))),
                "tokenizer.ggml.model is 'llamax'");
        refused(variant("dup", m -> {
            List<String> t = tokens(m);
            t.set(100, t.get(99));
            m.put("tokenizer.ggml.tokens", new Entry(GgufValueType.ARRAY, GgufArray.ofStrings(t)));
        }), "tokenizer.ggml.tokens[100]", "repeats token 99");
        refused(variant("empty", m -> {
            List<String> t = tokens(m);
            t.set(7, "");
            m.put("tokenizer.ggml.tokens", new Entry(GgufValueType.ARRAY, GgufArray.ofStrings(t)));
        }), "tokenizer.ggml.tokens[7] is an empty string");
        refused(variant("short", m -> {
            List<String> t = tokens(m);
            m.put("tokenizer.ggml.tokens", new Entry(GgufValueType.ARRAY, GgufArray.ofStrings(t.subList(0, 500))));
            m.remove("tokenizer.ggml.scores");
            m.remove("tokenizer.ggml.token_type");
        }), "500 tokens but token_embd.weight has 512 rows");
        refused(variant("scores", m -> m.put("tokenizer.ggml.scores", new Entry(GgufValueType.ARRAY,
                GgufArray.ofFloat32(new float[10])))), "tokenizer.ggml.scores has 10 entries for 512 tokens");
        refused(variant("types", m -> m.put("tokenizer.ggml.token_type", new Entry(GgufValueType.ARRAY,
                GgufArray.ofInt32(new int[3])))), "tokenizer.ggml.token_type has 3 entries");
        refused(variant("byte", m -> {
            List<String> t = tokens(m);
            t.set(3, "<0xZZ>");
            m.put("tokenizer.ggml.tokens", new Entry(GgufValueType.ARRAY, GgufArray.ofStrings(t)));
        }), "tokenizer.ggml.tokens[3] ('<0xZZ>') has token type BYTE");
        refused(variant("bert", m -> m.put("tokenizer.ggml.model", new Entry(GgufValueType.STRING, "bert"))),
                "a tokenizer for bert/jina-bert-v2/nomic-bert models, but general.architecture is 'llama'");
        refused(variant("ftype", m -> m.put("general.file_type", new Entry(GgufValueType.INT16, (short) 0))),
                "general.file_type has type INT16; llama.cpp reads it as UINT32");
    }

    @Test
    void quantizedNormWeights() throws IOException {
        refused(variant("norm", m -> { }, Map.of("output_norm.weight", GgmlType.Q8_0)),
                "tensor 'output_norm.weight' (a normalisation weight) is stored as Q8_0");
        refused(variant("f16norm", m -> { }, Map.of("blk.2.ffn_norm.weight", GgmlType.F16)), "is stored as F16");
        refused(variant("f16bias", m -> { }, Map.of("blk.0.attn_norm.weight", GgmlType.F16)), "needs F32 there");
        refused(variant("int", m -> { }, Map.of("blk.2.ffn_gate.weight", GgmlType.I32)),
                "tensor 'blk.2.ffn_gate.weight' is stored as I32");
    }
}
