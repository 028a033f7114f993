package io.loadstone.engine.pytorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.safetensors.DType;
import io.loadstone.engine.safetensors.TensorInfo;
import io.loadstone.testsupport.TorchSaveWriter;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files written by a real {@code torch.save} (torch 2.13.0+cpu, by make_fixtures.py next to them;
 * every value is an arange, so the expectations below follow from the script): the reader gets
 * every tensor right, refuses the transposed and the legacy file, and {@link TorchSaveWriter}
 * given the same tensors writes the same bytes, except the serialization id.
 */
class PytorchRealFileTest {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private Path fixture(String name) throws Exception {
        Path out = dir.resolve(name);
        try (InputStream in = PytorchRealFileTest.class.getResourceAsStream(name)) {
            Files.copy(in, out);
        }
        return out;
    }

    private static float[] floats(TensorInfo t) {
        float[] out = new float[(int) t.elements()];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (t.dtype()) {
                case F32 -> t.data().getAtIndex(F32, i);
                case F16 -> Float.float16ToFloat(t.data().getAtIndex(I16, i));
                case BF16 -> Float.intBitsToFloat(t.data().getAtIndex(I16, i) << 16);
                default -> throw new AssertionError(t.dtype());
            };
        }
        return out;
    }

    private static float[] arange(int from, int to) {
        float[] out = new float[to - from];
        for (int i = 0; i < out.length; i++) {
            out[i] = from + i;
        }
        return out;
    }

    @Test
    void plainDictOfEveryKind() throws Exception {
        Path f = fixture("torch-dict.bin");
        try (Arena arena = Arena.ofConfined()) {
            Map<String, TensorInfo> t = PytorchFile.open(f, arena);
            assertEquals(List.of("f32", "f16", "bf16", "i64", "scalar", "shared.all", "shared.view", "rank4"), List.copyOf(t.keySet()));
            assertEquals(DType.F32, t.get("f32").dtype());
            assertArrayEquals(new long[] {2, 3}, t.get("f32").shape());
            assertArrayEquals(arange(0, 6), floats(t.get("f32")));
            assertEquals(DType.F16, t.get("f16").dtype());
            assertArrayEquals(arange(0, 300), floats(t.get("f16")));
            assertEquals(DType.BF16, t.get("bf16").dtype());
            assertArrayEquals(new long[] {2, 2, 2}, t.get("bf16").shape());
            assertArrayEquals(arange(0, 8), floats(t.get("bf16")));
            assertEquals(DType.I64, t.get("i64").dtype());
            for (int i = 0; i < 5; i++) {
                assertEquals(i - 2, t.get("i64").data().getAtIndex(I64, i));
            }
            assertEquals(0, t.get("scalar").rank());
            assertArrayEquals(new float[] {7.5f}, floats(t.get("scalar")));
            assertArrayEquals(arange(0, 12), floats(t.get("shared.all")));
            // base[4:10].view(2, 3): the same storage from element 4, no copy.
            assertArrayEquals(new long[] {2, 3}, t.get("shared.view").shape());
            assertArrayEquals(arange(4, 10), floats(t.get("shared.view")));
            assertEquals(t.get("shared.all").data().address() + 16, t.get("shared.view").data().address());
            assertArrayEquals(new long[] {1, 2, 2, 4}, t.get("rank4").shape());
            assertArrayEquals(arange(0, 16), floats(t.get("rank4")));
        }
    }

    @Test
    void moduleStateDictWithMetadata() throws Exception {
        Path f = fixture("torch-state-dict.bin");
        try (Arena arena = Arena.ofConfined()) {
            Map<String, TensorInfo> t = PytorchFile.open(f, arena);
            assertEquals(List.of("weight", "bias"), List.copyOf(t.keySet()));
            assertArrayEquals(new long[] {3, 4}, t.get("weight").shape());
            assertArrayEquals(arange(0, 12), floats(t.get("weight")));
            assertArrayEquals(arange(0, 3), floats(t.get("bias")));
        }
    }

    @Test
    void transposedAndLegacyFilesAreRefused() throws Exception {
        Path transposed = fixture("torch-transposed.bin");
        try (Arena arena = Arena.ofConfined()) {
            ModelFileException e = assertThrows(ModelFileException.class, () -> PytorchFile.open(transposed, arena));
            assertTrue(e.getMessage().contains("non-contiguous view (shape [3, 2], stride [1, 3])"), e.getMessage());
            Path legacy = fixture("torch-legacy.bin");
            e = assertThrows(ModelFileException.class, () -> PytorchFile.open(legacy, arena));
            assertTrue(e.getMessage().contains("legacy (pre-1.6, non-zip)"), e.getMessage());
            assertEquals(legacy, e.file());
        }
    }

    /** Writes {@code records} over the real file's storage bytes and compares with the real file. */
    private void assertWriterReproduces(String name, List<TorchSaveWriter.Record> records, boolean stateDict) throws Exception {
        Path real = fixture(name);
        byte[] expected = Files.readAllBytes(real);
        Path ours = Files.createDirectories(dir.resolve("ours")).resolve(name);
        TorchZip zip = TorchZip.read(real, MemorySegment.ofArray(expected));
        Map<String, MemorySegment> storages = new LinkedHashMap<>();
        for (TorchSaveWriter.Record r : records) {
            storages.computeIfAbsent(r.storageKey(), k -> {
                try {
                    return MemorySegment.ofArray(zip.bytes(zip.record("data/" + k), 1 << 20));
                } catch (ModelFileException e) {
                    throw new AssertionError(e);
                }
            });
        }
        TorchSaveWriter.writeArchive(ours, TorchSaveWriter.pickle(records, stateDict), storages);
        byte[] actual = Files.readAllBytes(ours);
        assertEquals(expected.length, actual.length, "file size");
        // Only the serialization id's digits and that record's CRC (descriptor and central directory) may differ.
        TorchZip.Entry id = zip.record(".data/serialization_id");
        List<Long> allowed = new ArrayList<>();
        for (long i = id.dataOffset(); i < id.dataOffset() + id.size() + 8; i++) {
            allowed.add(i);
        }
        byte[] crc = new byte[4];
        MemorySegment.copy(MemorySegment.ofArray(expected), id.dataOffset() + id.size() + 4, MemorySegment.ofArray(crc), 0, 4);
        for (int i = (int) (id.dataOffset() + id.size() + 8); i < expected.length - 3; i++) {
            if (expected[i] == crc[0] && expected[i + 1] == crc[1] && expected[i + 2] == crc[2] && expected[i + 3] == crc[3]) {
                for (long j = i; j < i + 4; j++) {
                    allowed.add(j);
                }
            }
        }
        int differing = 0;
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] != actual[i]) {
                assertTrue(allowed.contains((long) i), name + ": byte " + i + " differs from torch.save's");
                differing++;
            }
        }
        assertTrue(differing <= id.size() + 8, name + ": " + differing + " bytes differ");
    }

    @Test
    void writerReproducesTorchSaveByteForByte() throws Exception {
        long[] none = {};
        assertWriterReproduces("torch-dict.bin", List.of(
                new TorchSaveWriter.Record("f32", "FloatStorage", "0", 6, 0, new long[] {2, 3}, new long[] {3, 1}),
                new TorchSaveWriter.Record("f16", "HalfStorage", "1", 300, 0, new long[] {300}, new long[] {1}),
                new TorchSaveWriter.Record("bf16", "BFloat16Storage", "2", 8, 0, new long[] {2, 2, 2}, new long[] {4, 2, 1}),
                new TorchSaveWriter.Record("i64", "LongStorage", "3", 5, 0, new long[] {5}, new long[] {1}),
                new TorchSaveWriter.Record("scalar", "FloatStorage", "4", 1, 0, none, none),
                new TorchSaveWriter.Record("shared.all", "FloatStorage", "5", 12, 0, new long[] {12}, new long[] {1}),
                new TorchSaveWriter.Record("shared.view", "FloatStorage", "5", 12, 4, new long[] {2, 3}, new long[] {3, 1}),
                new TorchSaveWriter.Record("rank4", "FloatStorage", "6", 16, 0, new long[] {1, 2, 2, 4}, new long[] {16, 8, 4, 1})),
                false);
        assertWriterReproduces("torch-state-dict.bin", List.of(
                new TorchSaveWriter.Record("weight", "FloatStorage", "0", 12, 0, new long[] {3, 4}, new long[] {4, 1}),
                new TorchSaveWriter.Record("bias", "FloatStorage", "1", 3, 0, new long[] {3}, new long[] {1})),
                true);
    }
}
