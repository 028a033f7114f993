package io.loadstone.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** GgufWriter output read back by GgufFile: values, types, layout and data bytes. */
class RoundTripTest {

    @TempDir
    Path dir;

    /** Tensors of several types and odd shapes: name -> (type, dims). */
    private static final Map<String, Object[]> TENSORS = new LinkedHashMap<>();

    static {
        TENSORS.put("f32.matrix", new Object[] {GgmlType.F32, new long[] {7, 3}});
        TENSORS.put("f16.vector", new Object[] {GgmlType.F16, new long[] {5}});
        TENSORS.put("bf16.cube", new Object[] {GgmlType.BF16, new long[] {2, 3, 4}});
        TENSORS.put("q4_0.weight", new Object[] {GgmlType.Q4_0, new long[] {64, 3}});
        TENSORS.put("q8_0.weight", new Object[] {GgmlType.Q8_0, new long[] {32, 5, 1, 2}});
        TENSORS.put("q4_k.weight", new Object[] {GgmlType.Q4_K, new long[] {256, 2}});
        TENSORS.put("q6_k.weight", new Object[] {GgmlType.Q6_K, new long[] {512}});
        TENSORS.put("i32.ids", new Object[] {GgmlType.I32, new long[] {3}});
        TENSORS.put("iq4_nl.weight", new Object[] {GgmlType.IQ4_NL, new long[] {32, 1}});
    }

    /** Scalars of every type, arrays of every element type, nested and empty arrays. */
    static Map<String, Object[]> everyValue() {
        Map<String, Object[]> m = new LinkedHashMap<>(); // key -> (type, canonical value)
        m.put("general.architecture", new Object[] {GgufValueType.STRING, "testarch"});
        m.put("testarch.context_length", new Object[] {GgufValueType.UINT64, 131072L});
        m.put("testarch.rope.freq_base", new Object[] {GgufValueType.FLOAT32, 500000.0f});
        m.put("tokenizer.chat_template", new Object[] {GgufValueType.STRING,
                "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}"});
        m.put("t.u8", new Object[] {GgufValueType.UINT8, (short) 255});
        m.put("t.i8", new Object[] {GgufValueType.INT8, (byte) -128});
        m.put("t.u16", new Object[] {GgufValueType.UINT16, 65535});
        m.put("t.i16", new Object[] {GgufValueType.INT16, (short) -32768});
        m.put("t.u32", new Object[] {GgufValueType.UINT32, 4294967295L});
        m.put("t.i32", new Object[] {GgufValueType.INT32, Integer.MIN_VALUE});
        m.put("t.f32", new Object[] {GgufValueType.FLOAT32, -0.0f});
        m.put("t.f32.nan", new Object[] {GgufValueType.FLOAT32, Float.NaN});
        m.put("t.bool.true", new Object[] {GgufValueType.BOOL, true});
        m.put("t.bool.false", new Object[] {GgufValueType.BOOL, false});
        m.put("t.string.empty", new Object[] {GgufValueType.STRING, ""});
        m.put("t.string.unicode", new Object[] {GgufValueType.STRING, "caf\u00e9 \u65e5\u672c\u8a9e \uD83E\uDD99 \0 end"});
        // longer than the reader's 64 KiB buffer: exercises the direct read path
        m.put("t.string.long", new Object[] {GgufValueType.STRING, "0123456789abcdef\u00e9".repeat(9000)});
        m.put("t.u64", new Object[] {GgufValueType.UINT64, -1L}); // 2^64 - 1
        m.put("t.i64", new Object[] {GgufValueType.INT64, Long.MIN_VALUE});
        m.put("t.f64", new Object[] {GgufValueType.FLOAT64, Math.PI});
        m.put("t.array.u8", new Object[] {GgufValueType.ARRAY, GgufArray.of(GgufValueType.UINT8, List.of(0, 1, 255))});
        m.put("t.array.i8", new Object[] {GgufValueType.ARRAY, GgufArray.of(GgufValueType.INT8, List.of(-1, 127))});
        m.put("t.array.u16", new Object[] {GgufValueType.ARRAY, GgufArray.of(GgufValueType.UINT16, List.of(65535, 7))});
        m.put("t.array.i16", new Object[] {GgufValueType.ARRAY, GgufArray.of(GgufValueType.INT16, List.of(-2, 3))});
        m.put("t.array.u32", new Object[] {GgufValueType.ARRAY,
                GgufArray.of(GgufValueType.UINT32, List.of(4294967295L, 0L))});
        m.put("t.array.i32", new Object[] {GgufValueType.ARRAY, GgufArray.ofInt32(1, -2, 3)});
        m.put("t.array.f32", new Object[] {GgufValueType.ARRAY, GgufArray.ofFloat32(1.5f, Float.NEGATIVE_INFINITY)});
        m.put("t.array.bool", new Object[] {GgufValueType.ARRAY, GgufArray.of(GgufValueType.BOOL, List.of(true, false))});
        m.put("t.array.string", new Object[] {GgufValueType.ARRAY, GgufArray.ofStrings(List.of("a", "", "\u00fc"))});
        m.put("t.array.u64", new Object[] {GgufValueType.ARRAY, GgufArray.of(GgufValueType.UINT64, List.of(-1L, 5L))});
        m.put("t.array.i64", new Object[] {GgufValueType.ARRAY, GgufArray.of(GgufValueType.INT64, List.of(-5L))});
        m.put("t.array.f64", new Object[] {GgufValueType.ARRAY, GgufArray.of(GgufValueType.FLOAT64, List.of(2.5, 1e300))});
        m.put("t.array.empty", new Object[] {GgufValueType.ARRAY, GgufArray.of(GgufValueType.INT32, List.of())});
        m.put("t.array.nested", new Object[] {GgufValueType.ARRAY, GgufArray.of(GgufValueType.ARRAY, List.of(
                GgufArray.ofStrings(List.of("x", "y")), GgufArray.of(GgufValueType.UINT8, List.of(9))))});
        float[] many = new float[100_000]; // 400 KB: crosses many buffer refills
        for (int i = 0; i < many.length; i++) {
            many[i] = i * 0.25f - 7;
        }
        m.put("t.array.many", new Object[] {GgufValueType.ARRAY, GgufArray.ofFloat32(many)});
        return m;
    }

    /** Adds every value and the test tensors to {@code w}. */
    static GgufWriter everyType(GgufWriter w) {
        everyValue().forEach((k, tv) -> w.put(k, (GgufValueType) tv[0], tv[1]));
        int seed = 0;
        for (Map.Entry<String, Object[]> e : TENSORS.entrySet()) {
            GgmlType type = (GgmlType) e.getValue()[0];
            long[] dims = (long[]) e.getValue()[1];
            long n = 1;
            for (long d : dims) {
                n *= d;
            }
            byte[] data = TestFiles.pattern((int) type.byteSize(n), seed++);
            // stream in uneven chunks to prove TensorData may write piecewise
            w.addTensor(e.getKey(), type, dims, out -> {
                for (int at = 0; at < data.length; at += 7) {
                    out.write(ByteBuffer.wrap(data, at, Math.min(7, data.length - at)));
                }
            });
        }
        return w;
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 32, 64, 4096})
    void everyValueTypeAndTensorRoundTrips(int alignment) throws IOException {
        GgufWriter w = new GgufWriter();
        if (alignment > 0) {
            w.alignment(alignment);
        }
        everyType(w);
        Path p = dir.resolve("all-" + alignment + ".gguf");
        w.write(p);
        GgufFile f = GgufFile.read(p);

        int expectedAlignment = alignment > 0 ? alignment : 32;
        assertEquals(3, f.version());
        assertEquals(expectedAlignment, f.alignment());
        Map<String, Object[]> expected = everyValue();
        List<String> keys = new ArrayList<>(expected.keySet());
        if (alignment > 0) {
            keys.addFirst("general.alignment");
            assertEquals(GgufValueType.UINT32, f.valueType("general.alignment").orElseThrow());
            assertEquals((long) alignment, f.metadata().get("general.alignment"));
        }
        assertEquals(keys, new ArrayList<>(f.metadata().keySet()), "keys in insertion order");
        for (Map.Entry<String, Object[]> e : expected.entrySet()) {
            String k = e.getKey();
            Object want = e.getValue()[1];
            Object got = f.metadata().get(k);
            assertEquals(e.getValue()[0], f.valueType(k).orElseThrow(), k);
            assertEquals(want.getClass(), got.getClass(), k);
            assertEquals(want, got, k);
            if (got instanceof GgufArray a) {
                assertEquals(((GgufArray) want).elementType(), a.elementType(), k);
            }
        }
        // the typed accessors
        assertEquals("testarch", f.architecture());
        assertEquals(131072, f.contextLength().orElseThrow());
        assertEquals(500000.0, f.ropeFreqBase().orElseThrow());
        assertTrue(f.chatTemplate().orElseThrow().startsWith("{% for m in messages %}"));
        assertEquals(-1, f.integer("t.u64").orElseThrow());
        assertEquals(18446744073709551615.0, f.number("t.u64").orElseThrow());
        assertEquals(4294967295L, f.integer("t.u32").orElseThrow());
        assertEquals(255, f.integer("t.u8").orElseThrow());
        assertEquals(-128, f.integer("t.i8").orElseThrow());
        assertEquals(Math.PI, f.number("t.f64").orElseThrow());
        assertTrue(f.integer("t.f32").isEmpty());
        assertTrue(f.integer("t.bool.true").isEmpty());
        assertTrue(f.number("t.string.empty").isEmpty());
        GgufArray nested = f.array("t.array.nested").orElseThrow();
        assertEquals("y", ((GgufArray) nested.get(0)).getString(1));
        assertEquals(18446744073709551615.0, f.array("t.array.u64").orElseThrow().getDouble(0));

        checkTensors(f, w.tensors(), p);
    }

    private static void checkTensors(GgufFile f, List<GgufTensor> planned, Path p) throws IOException {
        assertEquals(planned, f.tensors());
        assertEquals(TENSORS.size(), f.tensors().size());
        assertEquals(0, f.dataOffset() % f.alignment());
        int seed = 0;
        long end = 0;
        try (FileChannel ch = FileChannel.open(p)) {
            for (GgufTensor t : f.tensors()) {
                Object[] spec = TENSORS.get(t.name());
                assertEquals(spec[0], t.type());
                assertArrayEquals((long[]) spec[1], t.dims());
                assertEquals(0, t.offset() % f.alignment(), t.name());
                assertEquals(end, t.offset(), "back to back");
                ByteBuffer data = ByteBuffer.allocate((int) t.byteSize());
                ch.read(data, f.dataOffset() + t.offset());
                assertArrayEquals(TestFiles.pattern((int) t.byteSize(), seed++), data.array(), t.name());
                end = GgufParser.alignUp(t.offset() + t.byteSize(), f.alignment());
                ByteBuffer pad = ByteBuffer.allocate((int) (end - t.offset() - t.byteSize()));
                ch.read(pad, f.dataOffset() + t.offset() + t.byteSize());
                assertArrayEquals(new byte[pad.capacity()], pad.array(), "zero padding after " + t.name());
            }
        }
        assertEquals(f.fileSize(), f.dataOffset() + end, "the last tensor is padded too");
    }

    /** Reading the real file and writing it back gives the same bytes as llama.cpp's gguf-py wrote. */
    @Test
    void rewritingTheRealFileIsByteIdentical() throws IOException {
        Path src = TestFiles.stories();
        GgufFile f = GgufFile.read(src);
        GgufWriter w = new GgufWriter();
        f.metadata().forEach((k, v) -> w.put(k, f.valueType(k).orElseThrow(), v));
        try (FileChannel in = FileChannel.open(src)) {
            for (GgufTensor t : f.tensors()) {
                w.addTensor(t.name(), t.type(), t.dims(), out -> {
                    long at = f.dataOffset() + t.offset();
                    long left = t.byteSize();
                    while (left > 0) {
                        long n = in.transferTo(at, left, out);
                        at += n;
                        left -= n;
                    }
                });
            }
            Path copy = dir.resolve("copy.gguf");
            w.write(copy);
            assertEquals(-1L, Files.mismatch(src, copy));
        }
    }

    @Test
    void tensorDataWritingTooFewOrTooManyBytesFails() throws IOException {
        Path target = dir.resolve("short.gguf");
        GgufWriter few = new GgufWriter().addTensor("t", GgmlType.F32, new long[] {4},
                out -> out.write(ByteBuffer.allocate(15)));
        IOException e = assertThrows(IOException.class, () -> few.write(target));
        assertTrue(e.getMessage().contains("wrote 15 bytes, but the tensor takes 16"), e.getMessage());
        assertFalse(Files.exists(target));
        assertFalse(Files.exists(dir.resolve("short.gguf.part")), "no temporary file left behind");

        GgufWriter many = new GgufWriter().addTensor("t", GgmlType.F32, new long[] {4},
                out -> out.write(ByteBuffer.allocate(17)));
        e = assertThrows(IOException.class, () -> many.write(target));
        assertTrue(e.getMessage().contains("takes 16 bytes"), e.getMessage());
        assertFalse(Files.exists(target));
    }

    @Test
    void writerRefusesWhatReadersWouldRefuse() {
        GgufWriter w = new GgufWriter().putUInt32("a.b", 1).addTensor("t", GgmlType.F32, new long[] {1}, new byte[4]);
        assertThrows(IllegalArgumentException.class, () -> w.putUInt32("a.b", 2), "duplicate key");
        assertThrows(IllegalArgumentException.class, () -> w.putString("", "x"), "empty key");
        assertThrows(IllegalArgumentException.class, () -> w.putString("a\0b", "x"), "NUL in key");
        assertThrows(IllegalArgumentException.class, () -> w.alignment(48));
        assertThrows(IllegalArgumentException.class, () -> w.alignment(0));
        assertThrows(IllegalArgumentException.class, () -> w.putUInt8("u8", 256));
        assertThrows(IllegalArgumentException.class, () -> w.putUInt32("u32", -1));
        assertThrows(IllegalArgumentException.class, () -> w.put("g", GgufValueType.INT32, 1.5));
        assertThrows(IllegalArgumentException.class, () -> w.put("general.alignment", GgufValueType.UINT64, 32L));
        assertThrows(IllegalArgumentException.class, () -> w.putString("s", "\uD800 lone surrogate"));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("t", GgmlType.F32, new long[] {1}, new byte[4]));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("z", GgmlType.F32, new long[] {0}, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("z", GgmlType.F32, new long[] {}, new byte[4]));
        assertThrows(IllegalArgumentException.class,
                () -> w.addTensor("z", GgmlType.F32, new long[] {1, 1, 1, 1, 1}, new byte[4]));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("z", GgmlType.Q4_0, new long[] {16}, new byte[9]));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("z", GgmlType.F32, new long[] {2}, new byte[4]));
        assertThrows(IllegalArgumentException.class,
                () -> w.addTensor("n".repeat(64), GgmlType.F32, new long[] {1}, new byte[4]));
        assertThrows(IllegalArgumentException.class,
                () -> w.addTensor("z", GgmlType.F32, new long[] {1L << 32, 1L << 32}, out -> { }));
        // none of the refused tensors was kept, and the name 'z' is still free
        w.addTensor("z", GgmlType.F32, new long[] {2}, new byte[8]);
        assertEquals(List.of("t", "z"), w.tensors().stream().map(GgufTensor::name).toList());
    }

    @Test
    void describeNamesThePredominantTypeOfMixedFiles() throws IOException {
        Path p = dir.resolve("mixed.gguf");
        new GgufWriter().putString("general.architecture", "qwen2")
                .addTensor("big", GgmlType.Q4_K, new long[] {256, 4000}, out -> {
                    ByteBuffer zeros = ByteBuffer.allocateDirect(144 * 1000);
                    for (int i = 0; i < 4; i++) {
                        out.write(zeros.clear());
                    }
                })
                .addTensor("small", GgmlType.Q6_K, new long[] {256, 10}, new byte[2100])
                .addTensor("norm", GgmlType.F32, new long[] {256}, new byte[1024])
                .write(p);
        GgufFile f = GgufFile.read(p);
        assertEquals(256L * 4000 + 2560 + 256, f.parameterCount());
        assertEquals("GGUF v3, architecture qwen2, 1.0M parameters, mostly Q4_K", f.describe());
        assertInstanceOf(String.class, f.toString());
    }

    @Test
    void arrayFactoriesCheckRanges() {
        assertThrows(IllegalArgumentException.class, () -> GgufArray.of(GgufValueType.UINT8, List.of(-1)));
        assertThrows(IllegalArgumentException.class, () -> GgufArray.of(GgufValueType.INT16, List.of(40000)));
        assertThrows(IllegalArgumentException.class, () -> GgufArray.of(GgufValueType.STRING, Arrays.asList("a", null)));
        assertThrows(IllegalArgumentException.class, () -> GgufArray.of(GgufValueType.ARRAY, List.of(List.of(1))));
        GgufArray a = GgufArray.of(GgufValueType.UINT16, List.of(1, 2));
        assertEquals(List.of(1, 2), a);
        assertThrows(UnsupportedOperationException.class, () -> a.add(3));
        assertThrows(IllegalStateException.class, () -> a.getString(0));
        assertEquals(2, a.getLong(1));
        assertFalse(a.equals(GgufArray.of(GgufValueType.INT32, List.of(1, 2))), "element types differ");
    }
}
