package io.loadstone.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/** Shared helpers: the real model files, byte patching and a raw GGUF byte builder. */
final class TestFiles {

    private TestFiles() {
    }

    static Path models() {
        String dir = System.getProperty("loadstone.shared.models");
        Assumptions.assumeTrue(dir != null && Files.isDirectory(Path.of(dir)),
                "shared model folder not found (system property loadstone.shared.models = " + dir
                        + "); tests on real model files skipped");
        return Path.of(dir);
    }

    static Path stories() {
        Path p = models().resolve("stories260K.gguf");
        Assumptions.assumeTrue(Files.isRegularFile(p), p + " missing; real-file tests skipped");
        return p;
    }

    /** Reads {@code file}, expects a GgufException and checks it is well-formed. */
    static GgufException invalid(Path file) {
        GgufException e = assertThrows(GgufException.class, () -> GgufFile.read(file));
        wellFormed(e, file);
        return e;
    }

    static void wellFormed(GgufException e, Path file) {
        assertTrue(e.getMessage().startsWith(file.getFileName() + ": "), e.getMessage());
        assertEquals(file, e.file());
        assertFalse(e.fix().isBlank(), "no fix for: " + e.getMessage());
        assertTrue(e.offset() >= -1 && e.offset() <= Math.max(0, size(file)) + 1, "offset " + e.offset());
    }

    static void assertMessage(GgufException e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "expected '" + p + "' in: " + e.getMessage());
        }
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return -1;
        }
    }

    /** A copy of {@code bytes} with {@code patch} written at {@code at}, saved as {@code dir/name}. */
    static Path patched(byte[] bytes, Path dir, String name, long at, byte[] patch) throws IOException {
        byte[] copy = bytes.clone();
        System.arraycopy(patch, 0, copy, (int) at, patch.length);
        Path p = dir.resolve(name);
        Files.write(p, copy);
        return p;
    }

    static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    static byte[] le64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    static int readLe32(byte[] b, long at) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt((int) at);
    }

    static long readLe64(byte[] b, long at) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong((int) at);
    }

    /** The GGUF encoding of a string: u64 length + UTF-8. */
    static byte[] ggufString(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        byte[] out = Arrays.copyOf(le64(b.length), 8 + b.length);
        System.arraycopy(b, 0, out, 8, b.length);
        return out;
    }

    /** Offset of the only occurrence of {@code needle}; fails if absent or ambiguous. */
    static long find(byte[] hay, byte[] needle) {
        long found = -1;
        outer:
        for (int i = 0; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            if (found >= 0) {
                fail("pattern occurs twice");
            }
            found = i;
        }
        if (found < 0) {
            fail("pattern not found");
        }
        return found;
    }

    /** Offset of the value-type field of metadata entry {@code key}. */
    static long kvTypeAt(byte[] file, String key) {
        return find(file, ggufString(key)) + 8 + key.getBytes(StandardCharsets.UTF_8).length;
    }

    /** Field offsets of the tensor info of {@code name}. */
    record TensorInfoAt(long nDims, long dims, long type, long offset) {}

    static TensorInfoAt tensorInfoAt(byte[] file, String name) {
        long nDimsAt = find(file, ggufString(name)) + 8 + name.getBytes(StandardCharsets.UTF_8).length;
        int nDims = readLe32(file, nDimsAt);
        long typeAt = nDimsAt + 4 + 8L * nDims;
        return new TensorInfoAt(nDimsAt, nDimsAt + 4, typeAt, typeAt + 4);
    }

    /**
     * A small valid file with metadata of several types and three tensors of different types:
     * t0 F32 [8,4] (128 bytes, offset 0), t1 Q8_0 [64,2] (136 bytes, offset 128),
     * t2 F16 [16] (32 bytes, offset 288), alignment 32.
     */
    static GgufWriter sample() {
        return new GgufWriter()
                .putString("general.architecture", "llama")
                .putString("general.name", "sample")
                .putUInt32("llama.context_length", 4096)
                .putFloat32("llama.rope.freq_base", 500000f)
                .putUInt32("general.aaaa", 1)
                .putUInt32("general.aaab", 2)
                .putString("test.string", "h\u00e9llo")
                .putBool("test.bool", true)
                .putArray("tokenizer.ggml.tokens", GgufArray.ofStrings(List.of("<unk>", "tok\u00e9n", "c")))
                .putArray("test.ints", GgufArray.ofInt32(1, 2, 3))
                .addTensor("t0", GgmlType.F32, new long[] {8, 4}, pattern(128, 0))
                .addTensor("t1", GgmlType.Q8_0, new long[] {64, 2}, pattern(136, 1))
                .addTensor("t2", GgmlType.F16, new long[] {16}, pattern(32, 2));
    }

    static byte[] sampleBytes(Path dir) throws IOException {
        Path p = dir.resolve("sample.gguf");
        sample().write(p);
        return Files.readAllBytes(p);
    }

    /** Deterministic, tensor-specific bytes that are never all zero. */
    static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + seed * 17 + 1 + (i >>> 8));
        }
        return b;
    }

    /** Writes raw GGUF structures, valid or not, for cases the writer refuses to produce. */
    static final class Raw {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Raw bytes(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        Raw u32(int v) {
            return bytes(le32(v));
        }

        Raw u64(long v) {
            return bytes(le64(v));
        }

        Raw str(String s) {
            return bytes(ggufString(s));
        }

        Raw header(long tensors, long kvs) {
            return bytes("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(3).u64(tensors).u64(kvs);
        }

        /** A tensor info with the given name, shape, type id and offset. */
        Raw tensor(String name, int type, long offset, long... dims) {
            str(name).u32(dims.length);
            for (long d : dims) {
                u64(d);
            }
            return u32(type).u64(offset);
        }

        Raw padTo(int alignment) {
            while (out.size() % alignment != 0) {
                out.write(0);
            }
            return this;
        }

        Raw zeros(int n) {
            return bytes(new byte[n]);
        }

        Path save(Path dir, String name) throws IOException {
            Path p = dir.resolve(name);
            Files.write(p, out.toByteArray());
            return p;
        }
    }
}
