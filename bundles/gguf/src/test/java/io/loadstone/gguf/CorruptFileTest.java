package io.loadstone.gguf;

import static io.loadstone.gguf.TestFiles.assertMessage;
import static io.loadstone.gguf.TestFiles.invalid;
import static io.loadstone.gguf.TestFiles.le32;
import static io.loadstone.gguf.TestFiles.le64;
import static io.loadstone.gguf.TestFiles.patched;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.loadstone.gguf.TestFiles.Raw;
import io.loadstone.gguf.TestFiles.TensorInfoAt;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every validation rule, each shown to refuse a file that breaks it with a clear GgufException. */
class CorruptFileTest {

    @TempDir
    Path dir;

    // ------------------------------------------------------------------ truncation

    /** Cut the real file at every byte of its header region and every 997th byte of its data. */
    @Test
    void realFileTruncatedAnywhereIsRefused() throws IOException {
        Path src = TestFiles.stories();
        GgufFile whole = GgufFile.read(src);
        Path copy = dir.resolve("cut-stories.gguf");
        Files.copy(src, copy);
        List<Long> cuts = new ArrayList<>();
        for (long c = 0; c <= whole.dataOffset() + 64; c++) {
            cuts.add(c);
        }
        for (long c = whole.dataOffset() + 65; c < whole.fileSize(); c += 997) {
            cuts.add(c);
        }
        cuts.add(whole.fileSize() - 1);
        int headerCuts = 0;
        int dataCuts = 0;
        try (FileChannel ch = FileChannel.open(copy, StandardOpenOption.WRITE)) {
            for (int i = cuts.size() - 1; i >= 0; i--) { // shrinking only: truncate in place
                long cut = cuts.get(i);
                ch.truncate(cut);
                GgufException e = readExpectingFailure(copy, "cut at " + cut);
                assertTrue(e.getMessage().contains("truncated"), "cut at " + cut + ": " + e.getMessage());
                if (cut < whole.dataOffset()) {
                    headerCuts++;
                } else {
                    dataCuts++;
                    assertMessage(e, "data ends at byte", "but the file has " + String.format(Locale.ROOT, "%,d", cut) + " bytes");
                }
            }
        }
        assertTrue(headerCuts > 14_000 && dataCuts > 1_000, headerCuts + " / " + dataCuts);
    }

    /** Cut a writer-made file (every value type, nine tensor types) at (nearly) every byte. */
    @Test
    void writerFileTruncatedAtEveryByteIsRefused() throws IOException {
        Path full = dir.resolve("full.gguf");
        RoundTripTest.everyType(new GgufWriter()).write(full);
        GgufFile whole = GgufFile.read(full);
        assertTrue(whole.tensors().size() >= 3);
        GgufTensor last = whole.tensors().getLast();
        long dataEnd = whole.dataOffset() + last.offset() + last.byteSize();
        assertTrue(dataEnd < whole.fileSize(), "the sample's last tensor is followed by padding");
        Path copy = dir.resolve("cut.gguf");
        Files.copy(full, copy);
        try (FileChannel ch = FileChannel.open(copy, StandardOpenOption.WRITE)) {
            for (long cut = whole.fileSize() - 1; cut >= 0; cut--) {
                // every byte, except inside the two large values (a 160 KB string and a 400 KB
                // array), where every 97th byte is enough and keeps the test fast
                if (cut > 8192 && cut < whole.dataOffset() - 8192 && cut % 97 != 0) {
                    continue;
                }
                ch.truncate(cut);
                if (cut >= dataEnd) {
                    // only the padding after the last tensor is missing: every tensor is whole, and
                    // llama.cpp loads such files too
                    assertEquals(whole.tensors(), GgufFile.read(copy).tensors(), "cut at " + cut);
                } else {
                    readExpectingFailure(copy, "cut at " + cut);
                }
            }
        }
    }

    private static GgufException readExpectingFailure(Path file, String what) {
        try {
            GgufFile f = GgufFile.read(file);
            return fail(what + ": accepted as " + f.describe());
        } catch (GgufException e) {
            TestFiles.wellFormed(e, file);
            return e;
        } catch (RuntimeException | Error e) {
            throw new AssertionError(what + ": " + e, e);
        }
    }

    // ------------------------------------------------------------------ header

    @Test
    void wrongMagic() throws IOException {
        byte[] real = Files.readAllBytes(TestFiles.stories());
        GgufException e = invalid(patched(real, dir, "magic.gguf", 0, "GGUG".getBytes(StandardCharsets.US_ASCII)));
        assertMessage(e, "starts with 'GGUG' instead of 'GGUF'");
        assertEquals(0, e.offset());

        e = invalid(Files.writeString(dir.resolve("page.gguf"), "<!DOCTYPE html><html>Sign in</html>"));
        assertMessage(e, "HTML page");
        e = invalid(patched(real, dir, "ggjt.gguf", 0, "tjgg".getBytes(StandardCharsets.US_ASCII)));
        assertMessage(e, "GGJT");
        e = invalid(Files.write(dir.resolve("empty.gguf"), new byte[0]));
        assertMessage(e, "only 0 bytes");
        e = invalid(Files.write(dir.resolve("three.gguf"), "GGU".getBytes(StandardCharsets.US_ASCII)));
        assertMessage(e, "only 3 bytes");
        assertTrue(!GgufFile.looksLikeGguf(dir.resolve("three.gguf")));
    }

    @Test
    void unsupportedVersions() throws IOException {
        byte[] real = Files.readAllBytes(TestFiles.stories());
        assertMessage(invalid(patched(real, dir, "v1.gguf", 4, le32(1))), "version 1 is too old");
        assertMessage(invalid(patched(real, dir, "v99.gguf", 4, le32(99))), "version 99 is not supported");
        assertMessage(invalid(patched(real, dir, "v0.gguf", 4, le32(0))), "version 0");
        GgufException e = invalid(patched(real, dir, "be.gguf", 4, new byte[] {0, 0, 0, 3}));
        assertMessage(e, "big-endian", "version 3");
        assertTrue(e.fix().contains("gguf_convert_endian"), e.fix());
        assertEquals(4, e.offset());
    }

    @Test
    void version2IsAccepted() throws IOException {
        byte[] real = Files.readAllBytes(TestFiles.stories());
        GgufFile v2 = GgufFile.read(patched(real, dir, "v2.gguf", 4, le32(2)));
        assertEquals(2, v2.version());
        assertEquals(48, v2.tensors().size());
    }

    @Test
    void absurdCountsAreRefusedBeforeAllocating() throws IOException {
        byte[] real = Files.readAllBytes(TestFiles.stories());
        GgufException e = invalid(patched(real, dir, "tensors.gguf", 8, le64(1L << 60)));
        assertMessage(e, "claims 1,152,921,504,606,846,976 tensors");
        e = invalid(patched(real, dir, "kvs.gguf", 16, le64(1L << 60)));
        assertMessage(e, "claims 1,152,921,504,606,846,976 metadata entries");
        e = invalid(patched(real, dir, "kvs-neg.gguf", 16, le64(-1)));
        assertMessage(e, "18446744073709551615 metadata entries");
    }

    // ------------------------------------------------------------------ metadata

    @Test
    void absurdStringLength() throws IOException {
        byte[] real = Files.readAllBytes(TestFiles.stories());
        // the first key's length: 10 GB in a 1 MB file
        GgufException e = invalid(patched(real, dir, "key-len.gguf", 24, le64(10_000_000_000L)));
        assertMessage(e, "metadata key #0", "string of 10,000,000,000 bytes");
        assertEquals(24, e.offset());
        // a string value: general.architecture's value length
        long at = TestFiles.kvTypeAt(real, "general.architecture") + 4;
        e = invalid(patched(real, dir, "value-len.gguf", at, le64(-2)));
        assertMessage(e, "'general.architecture'", "18446744073709551614 bytes");
    }

    @Test
    void absurdArrayLength() throws IOException {
        byte[] real = Files.readAllBytes(TestFiles.stories());
        long countAt = TestFiles.kvTypeAt(real, "tokenizer.ggml.tokens") + 4 + 4;
        assertEquals(512, TestFiles.readLe64(real, countAt));
        GgufException e = invalid(patched(real, dir, "array-len.gguf", countAt, le64(1L << 60)));
        assertMessage(e, "'tokenizer.ggml.tokens'", "claims 1,152,921,504,606,846,976 STRING elements");
        assertEquals(countAt, e.offset());
        // a count that fits in the file but runs past its end: 600 float scores instead of 512
        long scoresAt = TestFiles.kvTypeAt(real, "tokenizer.ggml.scores") + 8;
        e = invalid(patched(real, dir, "array-len2.gguf", scoresAt, le64(300_000)));
        assertMessage(e, "claims 300,000 FLOAT32 elements");
    }

    @Test
    void unknownValueTypes() throws IOException {
        byte[] real = Files.readAllBytes(TestFiles.stories());
        long typeAt = TestFiles.kvTypeAt(real, "llama.context_length");
        GgufException e = invalid(patched(real, dir, "type13.gguf", typeAt, le32(13)));
        assertMessage(e, "key #", "('llama.context_length') has unknown value type 13");
        assertEquals(typeAt, e.offset());
        e = invalid(patched(real, dir, "type-1.gguf", typeAt, le32(-1)));
        assertMessage(e, "unknown value type 4294967295");
        long elemAt = TestFiles.kvTypeAt(real, "tokenizer.ggml.scores") + 4;
        e = invalid(patched(real, dir, "elem99.gguf", elemAt, le32(99)));
        assertMessage(e, "'tokenizer.ggml.scores'", "array of unknown value type 99");
    }

    @Test
    void duplicateKey() throws IOException {
        byte[] sample = TestFiles.sampleBytes(dir);
        long at = TestFiles.find(sample, TestFiles.ggufString("general.aaab"));
        GgufException e = invalid(patched(sample, dir, "dup.gguf", at, TestFiles.ggufString("general.aaaa")));
        assertMessage(e, "metadata key #5 ('general.aaaa') appears twice (first as key #4)");
        assertEquals(at, e.offset());
    }

    @Test
    void invalidUtf8() throws IOException {
        byte[] sample = TestFiles.sampleBytes(dir);
        // in a key: "general.n\xFFme"
        long keyAt = TestFiles.find(sample, TestFiles.ggufString("general.name"));
        GgufException e = invalid(patched(sample, dir, "utf8-key.gguf", keyAt + 8 + 9, new byte[] {(byte) 0xFF}));
        assertMessage(e, "metadata key #1 is not valid UTF-8", "byte 0xFF");
        assertEquals(keyAt + 8 + 9, e.offset());
        // in a value: "h\xC3\xA9llo" -> "h\xC3(llo"  (a lead byte without its continuation)
        long valueAt = TestFiles.kvTypeAt(sample, "test.string") + 4 + 8;
        e = invalid(patched(sample, dir, "utf8-value.gguf", valueAt + 2, new byte[] {'('}));
        assertMessage(e, "the value of metadata key #6 ('test.string') is not valid UTF-8");
        // in an array element: overlong encoding of '/' in "tok\xC3\xA9n"
        long tokAt = TestFiles.find(sample, "tok\u00e9n".getBytes(StandardCharsets.UTF_8));
        e = invalid(patched(sample, dir, "utf8-array.gguf", tokAt + 3, new byte[] {(byte) 0xC0, (byte) 0xAF}));
        assertMessage(e, "('tokenizer.ggml.tokens'), element 1 is not valid UTF-8");
        // in a tensor name: a lone continuation byte
        TensorInfoAt t1 = TestFiles.tensorInfoAt(sample, "t1");
        e = invalid(patched(sample, dir, "utf8-name.gguf", t1.nDims() - 1, new byte[] {(byte) 0x80}));
        assertMessage(e, "the name of tensor #1 is not valid UTF-8");
    }

    @Test
    void booleanOtherThanZeroOrOne() throws IOException {
        byte[] sample = TestFiles.sampleBytes(dir);
        long at = TestFiles.kvTypeAt(sample, "test.bool") + 4;
        assertEquals(1, sample[(int) at]);
        GgufException e = invalid(patched(sample, dir, "bool.gguf", at, new byte[] {2}));
        assertMessage(e, "('test.bool') is a boolean stored as 2");
        assertEquals(at, e.offset());
    }

    @Test
    void nulInKeyOrTensorName() throws IOException {
        byte[] sample = TestFiles.sampleBytes(dir);
        long keyAt = TestFiles.find(sample, TestFiles.ggufString("general.aaab"));
        assertMessage(invalid(patched(sample, dir, "nul-key.gguf", keyAt + 8 + 8, new byte[] {0})), "NUL");
        TensorInfoAt t2 = TestFiles.tensorInfoAt(sample, "t2");
        assertMessage(invalid(patched(sample, dir, "nul-name.gguf", t2.nDims() - 1, new byte[] {0})),
                "tensor #2", "NUL");
    }

    @Test
    void alignmentMustBeAUint32PowerOfTwo() throws IOException {
        Path good = dir.resolve("aligned64.gguf");
        TestFiles.sample().alignment(64).write(good);
        assertEquals(64, GgufFile.read(good).alignment());
        byte[] bytes = Files.readAllBytes(good);
        long typeAt = TestFiles.kvTypeAt(bytes, "general.alignment");
        assertEquals(64, TestFiles.readLe32(bytes, typeAt + 4));
        GgufException e = invalid(patched(bytes, dir, "align48.gguf", typeAt + 4, le32(48)));
        assertMessage(e, "general.alignment is 48; it must be a power of two");
        assertMessage(invalid(patched(bytes, dir, "align0.gguf", typeAt + 4, le32(0))), "general.alignment is 0");
        assertMessage(invalid(patched(bytes, dir, "align-i32.gguf", typeAt, le32(GgufValueType.INT32.id()))),
                "general.alignment has type INT32", "UINT32");
        assertMessage(invalid(patched(bytes, dir, "align-huge.gguf", typeAt + 4, le32(Integer.MIN_VALUE))),
                "2,147,483,648", "above");
    }

    @Test
    void arraysNestedBeyondTheLimitAreRefused() throws IOException {
        // 8 levels of arrays are accepted, 9 refused
        for (int depth : new int[] {8, 9}) {
            Raw raw = new Raw().header(0, 1).str("test.nested").u32(GgufValueType.ARRAY.id());
            for (int d = 1; d < depth; d++) {
                raw.u32(GgufValueType.ARRAY.id()).u64(1);
            }
            raw.u32(GgufValueType.UINT8.id()).u64(2).bytes(new byte[] {7, 9});
            Path p = raw.save(dir, "nested" + depth + ".gguf");
            if (depth == 8) {
                Object v = GgufFile.read(p).metadata().get("test.nested");
                for (int d = 1; d < depth; d++) {
                    v = ((GgufArray) v).getFirst();
                }
                assertEquals(List.of((short) 7, (short) 9), v);
            } else {
                assertMessage(invalid(p), "nests arrays more than 8 levels deep");
            }
        }
    }

    /** Many tiny strings cost far more heap than file bytes: the heap estimate stops them. */
    @Test
    void metadataHeapIsBounded() throws IOException {
        Raw raw = new Raw().header(0, 1).str("t.many").u32(GgufValueType.ARRAY.id())
                .u32(GgufValueType.STRING.id()).u64(50_000);
        for (int i = 0; i < 50_000; i++) {
            raw.str("a");
        }
        Path p = raw.save(dir, "many-strings.gguf");
        GgufArray many = GgufFile.read(p).array("t.many").orElseThrow();
        assertEquals(50_000, many.size());
        assertEquals("a", many.getString(49_999));
        GgufException e = assertThrowsGguf(() -> GgufFile.read(p, GgufParser.MAX_HEADER_BYTES, 1 << 20));
        TestFiles.wellFormed(e, p);
        assertMessage(e, "('t.many')", "past 1 MiB of memory");
    }

    @Test
    void headerRegionIsBounded() throws IOException {
        Path real = TestFiles.stories();
        assertEquals(48, GgufFile.read(real, 20_000, GgufParser.MAX_METADATA_HEAP).tensors().size());
        GgufException e = assertThrowsGguf(() -> GgufFile.read(real, 10_000, GgufParser.MAX_METADATA_HEAP));
        TestFiles.wellFormed(e, real);
        assertMessage(e, "10,000 bytes");
    }

    @Test
    void emptyKey() throws IOException {
        Path p = new Raw().header(0, 1).str("").u32(GgufValueType.UINT8.id()).bytes(new byte[] {1}).zeros(16)
                .save(dir, "ek.gguf");
        assertMessage(invalid(p), "metadata key #0 is empty");
    }

    // ------------------------------------------------------------------ tensor table

    @Test
    void unknownGgmlTypes() throws IOException {
        byte[] sample = TestFiles.sampleBytes(dir);
        TensorInfoAt t0 = TestFiles.tensorInfoAt(sample, "t0");
        for (int id : new int[] {4, 31, 36, 39, 40, 1000, -1}) {
            GgufException e = invalid(patched(sample, dir, "type" + id + ".gguf", t0.type(), le32(id)));
            assertMessage(e, "tensor #0 ('t0') has unknown ggml type " + Integer.toUnsignedString(id));
            assertEquals(t0.type(), e.offset());
        }
    }

    @Test
    void dimensionCounts() throws IOException {
        byte[] sample = TestFiles.sampleBytes(dir);
        TensorInfoAt t0 = TestFiles.tensorInfoAt(sample, "t0");
        assertMessage(invalid(patched(sample, dir, "ndims0.gguf", t0.nDims(), le32(0))), "('t0') has 0 dimensions");
        assertMessage(invalid(patched(sample, dir, "ndims5.gguf", t0.nDims(), le32(5))), "('t0') has 5 dimensions");
    }

    @Test
    void zeroDimension() throws IOException {
        byte[] sample = TestFiles.sampleBytes(dir);
        TensorInfoAt t0 = TestFiles.tensorInfoAt(sample, "t0");
        GgufException e = invalid(patched(sample, dir, "dim0.gguf", t0.dims() + 8, le64(0)));
        assertMessage(e, "('t0') has dimension 1 = 0; every dimension must be at least 1");
        assertEquals(t0.dims() + 8, e.offset());
    }

    @Test
    void elementCountOverflow() throws IOException {
        byte[] sample = TestFiles.sampleBytes(dir);
        TensorInfoAt t0 = TestFiles.tensorInfoAt(sample, "t0");
        byte[] dims = new byte[16];
        System.arraycopy(le64(1L << 32), 0, dims, 0, 8);
        System.arraycopy(le64(1L << 32), 0, dims, 8, 8);
        assertMessage(invalid(patched(sample, dir, "overflow.gguf", t0.dims(), dims)),
                "[4294967296, 4294967296]", "does not fit in 64 bits");
        // 2^62 F32 elements fit in a long, their 2^64 bytes do not
        System.arraycopy(le64(1L << 31), 0, dims, 0, 8);
        System.arraycopy(le64(1L << 31), 0, dims, 8, 8);
        assertMessage(invalid(patched(sample, dir, "bytes-overflow.gguf", t0.dims(), dims)), "more than 2^63 bytes");
    }

    @Test
    void rowsMustBeWholeBlocks() throws IOException {
        byte[] sample = TestFiles.sampleBytes(dir);
        TensorInfoAt t1 = TestFiles.tensorInfoAt(sample, "t1"); // Q8_0 [64, 2]
        GgufException e = invalid(patched(sample, dir, "rows.gguf", t1.dims(), le64(48)));
        assertMessage(e, "('t1') has rows of 48 elements, not a multiple of Q8_0's block size 32");
    }

    @Test
    void duplicateTensorName() throws IOException {
        byte[] sample = TestFiles.sampleBytes(dir);
        long at = TestFiles.find(sample, TestFiles.ggufString("t2"));
        assertMessage(invalid(patched(sample, dir, "dupname.gguf", at, TestFiles.ggufString("t1"))),
                "tensor #2 has the same name as an earlier tensor: 't1'");
    }

    @Test
    void tensorNameLength() throws IOException {
        String ok = "n".repeat(63);
        Path p63 = new Raw().header(1, 0).tensor(ok, GgmlType.F32.id(), 0, 8).padTo(32).zeros(32).save(dir, "n63.gguf");
        assertEquals(ok, GgufFile.read(p63).tensors().getFirst().name());
        Path p64 = new Raw().header(1, 0).tensor(ok + "n", GgmlType.F32.id(), 0, 8).padTo(32).zeros(32)
                .save(dir, "n64.gguf");
        assertMessage(invalid(p64), "is 64 bytes long; ggml allows at most 63");
    }

    @Test
    void offsetPastEndOfFile() throws IOException {
        byte[] sample = TestFiles.sampleBytes(dir);
        TensorInfoAt t2 = TestFiles.tensorInfoAt(sample, "t2");
        GgufException e = invalid(patched(sample, dir, "past.gguf", t2.offset(), le64(1L << 40)));
        assertMessage(e, "tensor 't2' data starts at byte", "past the end of the file");
        // an offset whose data starts inside the file but ends after it
        e = invalid(patched(sample, dir, "past2.gguf", t2.offset(), le64(320)));
        assertMessage(e, "tensor 't2' data ends at byte", "but the file has " + String.format(Locale.ROOT, "%,d", sample.length));
        assertEquals("Download the file again; compare its sha256 with the source.", e.fix());
        e = invalid(patched(sample, dir, "past3.gguf", t2.offset(), le64(-32)));
        assertMessage(e, "18446744073709551584", "past the end");
    }

    @Test
    void misalignedOffset() throws IOException {
        byte[] sample = TestFiles.sampleBytes(dir);
        TensorInfoAt t1 = TestFiles.tensorInfoAt(sample, "t1");
        assertEquals(128, TestFiles.readLe64(sample, t1.offset()));
        GgufException e = invalid(patched(sample, dir, "misaligned.gguf", t1.offset(), le64(129)));
        assertMessage(e, "('t1') has data offset 129, which is not a multiple of the alignment 32");
        assertEquals(t1.offset(), e.offset());
    }

    @Test
    void overlappingTensors() throws IOException {
        byte[] sample = TestFiles.sampleBytes(dir);
        TensorInfoAt t1 = TestFiles.tensorInfoAt(sample, "t1");
        GgufException e = invalid(patched(sample, dir, "overlap.gguf", t1.offset(), le64(96)));
        assertMessage(e, "tensors 't0' and 't1' overlap");
        e = invalid(patched(sample, dir, "same.gguf", t1.offset(), le64(0)));
        assertMessage(e, "overlap");
    }

    /** A gap between tensors is legal in the spec but llama.cpp refuses it. */
    @Test
    void tensorsMustBeBackToBack() throws IOException {
        byte[] sample = TestFiles.sampleBytes(dir);
        byte[] longer = java.util.Arrays.copyOf(sample, sample.length + 64);
        TensorInfoAt t2 = TestFiles.tensorInfoAt(longer, "t2");
        assertEquals(288, TestFiles.readLe64(longer, t2.offset()));
        Path ok = Files.write(dir.resolve("trailing.gguf"), longer);
        assertEquals(3, GgufFile.read(ok).tensors().size(), "trailing bytes after the data are fine");
        GgufException e = invalid(patched(longer, dir, "gap.gguf", t2.offset(), le64(320)));
        assertMessage(e, "'t2' has data offset 320", "back to back", "288");
    }

    @Test
    void notAFile() throws IOException {
        GgufException e = invalid(dir.resolve("missing.gguf"));
        assertMessage(e, "file not found");
        Path sub = Files.createDirectory(dir.resolve("sub.gguf"));
        assertMessage(assertThrowsGguf(sub), "is a directory");
    }

    private static GgufException assertThrowsGguf(Path p) {
        return assertThrowsGguf(() -> GgufFile.read(p));
    }

    private static GgufException assertThrowsGguf(org.junit.jupiter.api.function.Executable read) {
        return org.junit.jupiter.api.Assertions.assertThrows(GgufException.class, read);
    }

    @Test
    void metadataOnlyFileHasNoPadding() throws IOException {
        Path p = dir.resolve("vocab-only.gguf");
        new GgufWriter().putString("general.architecture", "llama").putUInt32("llama.context_length", 8)
                .putString("k", "v").alignment(64).write(p);
        GgufFile f = GgufFile.read(p);
        assertTrue(f.tensors().isEmpty());
        assertEquals(Files.size(p), f.dataOffset());
        assertEquals("GGUF v3, architecture llama, no tensors", f.describe());
        assertEquals(0, f.parameterCount());
    }
}
