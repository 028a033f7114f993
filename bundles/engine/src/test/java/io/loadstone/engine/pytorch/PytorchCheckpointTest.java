package io.loadstone.engine.pytorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.engine.EngineModel;
import io.loadstone.engine.EngineOptions;
import io.loadstone.engine.EngineSession;
import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.TestModels;
import io.loadstone.engine.safetensors.Checkpoint;
import io.loadstone.engine.safetensors.DType;
import io.loadstone.engine.safetensors.TensorInfo;
import io.loadstone.testsupport.TorchSaveWriter;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * pytorch_model*.bin folders made from the real stories260K checkpoints (F32, F16, BF16) give
 * the engine the very same tensors, and so the very same logits, as the safetensors originals.
 */
class PytorchCheckpointTest {

    private static final System.Logger LOG = System.getLogger(PytorchCheckpointTest.class.getName());
    private static final int[] PROMPT = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376};

    @TempDir
    Path dir;

    static float[][] logits(Path folder) throws Exception {
        try (EngineModel m = EngineModel.open(folder, EngineOptions.builder().threads(2).batchSize(4).build());
                EngineSession s = m.newSession()) {
            return s.forwardAll(PROMPT);
        }
    }

    static void assertSameLogits(Path expected, Path actual) throws Exception {
        float[][] a = logits(expected);
        float[][] b = logits(actual);
        for (int i = 0; i < PROMPT.length; i++) {
            assertArrayEquals(a[i], b[i], 0f, "position " + i);
        }
    }

    /** Every tensor: same name, dtype, shape and bytes, and the bytes are a slice of the .bin file. */
    static void assertSameTensors(Path safetensors, Path bin) throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, TensorInfo> st = Checkpoint.open(safetensors, arena).tensors();
            Checkpoint ck = Checkpoint.open(bin, arena);
            assertEquals(st.keySet(), ck.tensors().keySet());
            assertTrue(ck.files().stream().allMatch(f -> f.getFileName().toString().endsWith(".bin")), ck.files().toString());
            for (TensorInfo t : st.values()) {
                TensorInfo b = ck.tensors().get(t.name());
                assertEquals(t.dtype(), b.dtype(), t.name());
                assertArrayEquals(t.shape(), b.shape(), t.name());
                assertEquals(-1, t.data().mismatch(b.data()), t.name() + " bytes");
                assertTrue(b.data().isMapped() && b.data().isReadOnly(), "mapped from the file, not copied: " + t.name());
                assertTrue(b.file().getFileName().toString().endsWith(".bin"));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"stories260K-hf", "stories260K-hf-f16", "stories260K-hf-bf16"})
    void binFolderGivesTheSameLogitsAsSafetensors(String model) throws Exception {
        Path src = TestModels.model(model);
        Path bin = BinFixtures.binFolder(src, dir.resolve("bin"));
        assertSameTensors(src, bin);
        assertSameLogits(src, bin);
        try (EngineModel m = EngineModel.open(bin, EngineOptions.defaults())) {
            LOG.log(System.Logger.Level.INFO, model + " as pytorch_model.bin: " + m.config().weightType() + ", "
                    + Files.size(bin.resolve("pytorch_model.bin")) + " bytes, logits equal to safetensors");
        }
    }

    @Test
    void stateDictOrderedDictWithMetadataReadsTheSame() throws Exception {
        Path src = TestModels.model("stories260K-hf");
        BinFixtures.copyNonWeights(src, dir);
        BinFixtures.writeBin(src, dir.resolve("pytorch_model.bin"), n -> true, true);
        assertSameTensors(src, dir);
        assertSameLogits(src, dir);
    }

    @Test
    void shardedBinWithIndexEqualsTheSafetensors() throws Exception {
        Path src = TestModels.model("stories260K-hf-f16");
        Path bin = BinFixtures.shardedBinFolder(src, dir.resolve("sharded"));
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(2, Checkpoint.open(bin, arena).files().size());
        }
        assertSameTensors(src, bin);
        assertSameLogits(src, bin);

        // Without the index, every pytorch_model*.bin is read.
        Files.delete(bin.resolve(Checkpoint.BIN_INDEX));
        assertSameLogits(src, bin);

        // An index naming a shard the folder lacks.
        BinFixtures.shardedBinFolder(src, dir.resolve("missing"));
        Path gone = dir.resolve("missing/pytorch_model-00002-of-00002.bin");
        Files.delete(gone);
        ModelFileException e = assertThrows(ModelFileException.class, () -> EngineModel.open(dir.resolve("missing"), EngineOptions.defaults()));
        LOG.log(System.Logger.Level.INFO, e.getMessage());
        assertEquals(gone, e.file());
        assertTrue(e.getMessage().contains("listed in pytorch_model.bin.index.json but missing"), e.getMessage());
    }

    @Test
    void safetensorsArePreferredWhenBothExist() throws Exception {
        Path src = TestModels.model("stories260K-hf");
        Path both = BinFixtures.binFolder(src, dir.resolve("both"));
        Files.copy(src.resolve("model.safetensors"), both.resolve("model.safetensors"));
        // A damaged .bin next to safetensors is never opened.
        Files.write(both.resolve("pytorch_model.bin"), new byte[] {1, 2, 3});
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(List.of(both.resolve("model.safetensors")), Checkpoint.open(both, arena).files());
        }
        assertSameLogits(src, both);
    }

    @Test
    void archiveIsAValidZipWithPytorchsLayout() throws Exception {
        Path src = TestModels.model("stories260K-hf-bf16");
        Path bin = BinFixtures.binFolder(src, dir).resolve("pytorch_model.bin");
        List<String> names = new ArrayList<>();
        // java.util.zip is an independent reader: names, sizes and every CRC must check out.
        try (ZipFile z = new ZipFile(bin.toFile())) {
            for (ZipEntry e : Collections.list(z.entries())) {
                names.add(e.getName());
                assertEquals(ZipEntry.STORED, e.getMethod(), e.getName());
                CRC32 crc = new CRC32();
                try (InputStream in = z.getInputStream(e)) {
                    crc.update(in.readAllBytes());
                }
                assertEquals(e.getCrc(), crc.getValue(), e.getName());
            }
        }
        assertEquals("pytorch_model/data.pkl", names.getFirst());
        assertEquals(List.of("pytorch_model/.format_version", "pytorch_model/.storage_alignment", "pytorch_model/byteorder",
                "pytorch_model/data/0"), names.subList(1, 5));
        assertEquals(List.of("pytorch_model/version", "pytorch_model/.data/serialization_id"), names.subList(names.size() - 2, names.size()));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment whole = MemorySegment.ofArray(Files.readAllBytes(bin));
            TorchZip zip = TorchZip.read(bin, whole);
            assertEquals("pytorch_model/", zip.prefix());
            for (TorchZip.Entry e : zip.entries().values()) {
                assertEquals(0, e.dataOffset() % 64, "64-byte aligned data: " + e.name());
            }
            assertEquals("3\n", new String(zip.bytes(zip.record("version"), 10)));
            assertEquals("little", new String(zip.bytes(zip.record("byteorder"), 10)));
            // The pickle starts like every torch.save output: PROTO 2, EMPTY_DICT, BINPUT 0, MARK.
            byte[] pkl = zip.bytes(zip.record("data.pkl"), 1 << 20);
            assertArrayEquals(new byte[] {(byte) 0x80, 2, '}', 'q', 0, '('}, java.util.Arrays.copyOf(pkl, 6));
            assertEquals('.', pkl[pkl.length - 1]);
        }
    }

    @Test
    void sharedStoragesOffsetsAndLargeDictsAreRead() throws Exception {
        // One storage of 20 floats viewed by three tensors (as tied or sliced weights are saved),
        // then 1000 and 1001 small tensors (full SETITEMS batches, LONG_BINPUT memo indices).
        Path f = dir.resolve("shared.bin");
        MemorySegment storage = MemorySegment.ofArray(new float[20]);
        for (int i = 0; i < 20; i++) {
            storage.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, i);
        }
        List<TorchSaveWriter.Record> records = List.of(
                new TorchSaveWriter.Record("all", "FloatStorage", "0", 20, 0, new long[] {4, 5}, new long[] {5, 1}),
                new TorchSaveWriter.Record("tail", "FloatStorage", "0", 20, 10, new long[] {2, 5}, new long[] {5, 1}),
                new TorchSaveWriter.Record("row", "FloatStorage", "0", 20, 15, new long[] {1, 5}, new long[] {99, 1}),
                new TorchSaveWriter.Record("scalar", "FloatStorage", "0", 20, 19, new long[] {}, new long[] {}));
        TorchSaveWriter.writeArchive(f, TorchSaveWriter.pickle(records, false), Map.of("0", storage));
        try (Arena arena = Arena.ofConfined()) {
            Map<String, TensorInfo> t = PytorchFile.open(f, arena);
            assertEquals(List.of("all", "tail", "row", "scalar"), List.copyOf(t.keySet()));
            assertEquals(10f, t.get("tail").data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 0));
            assertEquals(40, t.get("tail").data().byteSize());
            assertEquals(15f, t.get("row").data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 0));
            assertEquals(19f, t.get("scalar").data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 0));
            assertEquals(0, t.get("scalar").rank());
        }
        for (int n : new int[] {1000, 1001}) {
            for (boolean stateDict : new boolean[] {false, true}) {
                Path big = dir.resolve("big-" + n + "-" + stateDict + ".bin");
                List<TorchSaveWriter.Tensor> tensors = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    tensors.add(new TorchSaveWriter.Tensor("t." + i, DType.I32, new long[] {1}, MemorySegment.ofArray(new int[] {i})));
                }
                TorchSaveWriter.write(big, tensors, stateDict);
                try (Arena arena = Arena.ofConfined()) {
                    Map<String, TensorInfo> t = PytorchFile.open(big, arena);
                    assertEquals(n, t.size());
                    Map<String, Integer> values = new LinkedHashMap<>();
                    t.forEach((k, v) -> values.put(k, v.data().get(ValueLayout.JAVA_INT_UNALIGNED, 0)));
                    for (int i = 0; i < n; i++) {
                        assertEquals(i, values.get("t." + i));
                    }
                }
            }
        }
    }
}
