package io.loadstone.engine.pytorch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.engine.EngineModel;
import io.loadstone.engine.EngineOptions;
import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.TestModels;
import io.loadstone.engine.safetensors.DType;
import io.loadstone.testsupport.TorchSaveWriter;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged and hostile pytorch_model.bin files: each must end in a {@link ModelFileException}
 * that names the file and the problem, never another exception, and never run anything.
 */
class CorruptPytorchTest {

    private static final System.Logger LOG = System.getLogger(CorruptPytorchTest.class.getName());

    @TempDir
    Path dir;
    Path bin;
    byte[] original;

    @BeforeEach
    void binCopyOfTheRealModel() throws Exception {
        Path src = TestModels.model("stories260K-hf");
        BinFixtures.binFolder(src, dir);
        bin = dir.resolve("pytorch_model.bin");
        original = Files.readAllBytes(bin);
    }

    private ModelFileException refused(String expected) {
        ModelFileException e = assertThrows(ModelFileException.class,
                () -> EngineModel.open(dir, EngineOptions.builder().threads(1).build()).close());
        LOG.log(System.Logger.Level.INFO, e.getMessage());
        assertEquals(bin, e.file());
        assertTrue(e.getMessage().contains(bin.toString()), "message must name the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(expected), "message should mention '" + expected + "': " + e.getMessage());
        assertFalse(e.fix().isEmpty());
        return e;
    }

    /** A .bin with this pickle and one F32 storage record "0" of {@code floats} elements. */
    private void withPickle(byte[] pickle, int floats) throws Exception {
        TorchSaveWriter.writeArchive(bin, pickle, Map.of("0", MemorySegment.ofArray(new float[floats])));
    }

    private void withRecords(List<TorchSaveWriter.Record> records, int floats) throws Exception {
        withPickle(TorchSaveWriter.pickle(records, false), floats);
    }

    private static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private static int lastIndexOf(byte[] hay, int sig) {
        byte[] n = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(sig).array();
        for (int i = hay.length - 4; i >= 0; i--) {
            if (hay[i] == n[0] && hay[i + 1] == n[1] && hay[i + 2] == n[2] && hay[i + 3] == n[3]) {
                return i;
            }
        }
        return -1;
    }

    @Test
    void intactCopyOpens() throws Exception {
        try (EngineModel m = EngineModel.open(dir, EngineOptions.builder().threads(1).build())) {
            assertEquals(5, m.config().numLayers());
        }
    }

    @Test
    void truncatedFiles() throws Exception {
        Files.write(bin, Arrays.copyOf(original, original.length - 1000));
        refused("truncated");
        Files.write(bin, Arrays.copyOf(original, original.length / 2));
        refused("no zip end-of-central-directory record");
        Files.write(bin, Arrays.copyOf(original, 3));
        refused("not a PyTorch checkpoint");
        Files.write(bin, new byte[0]);
        refused("is empty");
    }

    @Test
    void badCentralDirectory() throws Exception {
        byte[] b = original.clone();
        int cd = indexOf(b, new byte[] {'P', 'K', 1, 2}, 0);
        b[cd + 3] = 9;
        Files.write(bin, b);
        refused("bad central directory");

        // The classic end record's offset is ignored in favour of zip64's; damage zip64's.
        b = original.clone();
        int z64 = lastIndexOf(b, 0x06064b50);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(z64 + 48, b.length * 2L);
        Files.write(bin, b);
        refused("central directory");

        // A local header offset pointing into the middle of data.
        b = original.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(cd + 42, 7);
        Files.write(bin, b);
        refused("does not point to a local file header");

        // The zip64 locator pointing nowhere.
        b = original.clone();
        int loc = lastIndexOf(b, 0x07064b50);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(loc + 8, 3);
        Files.write(bin, b);
        refused("no zip64 end record");
    }

    @Test
    void damagedPickleFailsItsCrc() throws Exception {
        byte[] b = original.clone();
        int p = indexOf(b, "model.norm.weight".getBytes(StandardCharsets.US_ASCII), 0);
        b[p] = 'M';
        Files.write(bin, b);
        refused("CRC-32");
    }

    @Test
    void unknownOpcode() throws Exception {
        withPickle(new byte[] {(byte) 0x80, 2, '}', 'q', 0, (byte) 0xff, '.'}, 1);
        refused("unknown or unsupported pickle opcode 0xff at byte 5");
        // INST (protocol 0) would look a class up and call it: not understood, so refused.
        withPickle("(ios\nsystem\nS'id'\n.".getBytes(StandardCharsets.US_ASCII), 1);
        refused("opcode 0x69 ('i')");
    }

    @Test
    void truncatedAndInconsistentPickles() throws Exception {
        withPickle(new byte[] {(byte) 0x80, 2, '}', 'X', 100, 0, 0, 0, 'a'}, 1);
        refused("BINUNICODE length 100 runs past the end");
        withPickle(new byte[] {(byte) 0x80, 2, '}', 's', '.'}, 1);
        refused("stack underflow");
        withPickle(new byte[] {(byte) 0x80, 2, 'h', 5, '.'}, 1);
        refused("memo slot 5 is read before it is written");
        // Tuples as dict keys: nested ones would make hashing exponential, so none are accepted.
        withPickle(new byte[] {(byte) 0x80, 2, '}', 'K', 1, (byte) 0x85, 'K', 2, 's', '.'}, 1);
        refused("dict key a tuple of 1");
        // A pickle that only grows the stack is stopped, not run until the heap is full.
        byte[] dups = new byte[(1 << 20) + 10];
        Arrays.fill(dups, (byte) '2');
        dups[0] = (byte) 0x80;
        dups[1] = 2;
        dups[2] = 'N';
        withPickle(dups, 1);
        refused("more than 1048576 objects on the pickle stack");
        withPickle(new byte[] {(byte) 0x80, 2, ']', '.'}, 1);
        refused("not a state dict");
        withPickle(new byte[] {(byte) 0x80, 2, '}', 'X', 1, 0, 0, 0, 'w', 'K', 7, 's', '.'}, 1);
        refused("entry 'w' of pytorch_model/data.pkl is the integer 7, not a tensor");
    }

    @Test
    void storageTooSmallForShape() throws Exception {
        withRecords(List.of(new TorchSaveWriter.Record("w", "FloatStorage", "0", 10, 0, new long[] {4, 4}, new long[] {4, 1})), 10);
        refused("storage too small for shape");
        withRecords(List.of(new TorchSaveWriter.Record("w", "FloatStorage", "0", 16, 8, new long[] {3, 3}, new long[] {3, 1})), 16);
        refused("does not fit in its storage '0' of 16 elements");
        // The pickle promises more elements than the record holds.
        withRecords(List.of(new TorchSaveWriter.Record("w", "FloatStorage", "0", 16, 0, new long[] {4, 4}, new long[] {4, 1})), 10);
        refused("holds 40 bytes but 16 elements of FloatStorage need 64");
        withRecords(List.of(new TorchSaveWriter.Record("w", "FloatStorage", "7", 4, 0, new long[] {4}, new long[] {1})), 4);
        refused("no record pytorch_model/data/7");
        // One storage viewed as two dtypes (torch.save refuses to write that).
        withRecords(List.of(new TorchSaveWriter.Record("a", "FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1}),
                new TorchSaveWriter.Record("b", "HalfStorage", "0", 8, 0, new long[] {8}, new long[] {1})), 4);
        refused("storage '0' is described twice, as FloatStorage and as 8 elements of HalfStorage");
    }

    @Test
    void nonContiguousTensorsAreRefusedClearly() throws Exception {
        // A transposed view: torch.save keeps the view, save_pretrained would have made it contiguous.
        withRecords(List.of(new TorchSaveWriter.Record("w", "FloatStorage", "0", 6, 0, new long[] {2, 3}, new long[] {1, 2})), 6);
        ModelFileException e = refused("non-contiguous view (shape [2, 3], stride [1, 2])");
        assertTrue(e.fix().contains("contiguous()"), e.fix());
        // Size-1 dimensions may have any stride: still contiguous.
        withRecords(List.of(new TorchSaveWriter.Record("w", "FloatStorage", "0", 6, 0, new long[] {1, 6}, new long[] {99, 1})), 6);
        refusedOrMissing();
    }

    /** The file itself reads; the model then lacks its weights (the error names the folder, not the file). */
    private void refusedOrMissing() {
        ModelFileException e = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()).close());
        assertFalse(e.getMessage().contains("non-contiguous"), e.getMessage());
    }

    @Test
    void compressedTensorRecordsAreRefused() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(out)) {
            z.putNextEntry(new ZipEntry("pytorch_model/data.pkl"));
            z.write(TorchSaveWriter.pickle(List.of(new TorchSaveWriter.Record("w", "FloatStorage", "0", 4, 0, new long[] {4},
                    new long[] {1})), false));
            z.closeEntry();
            z.putNextEntry(new ZipEntry("pytorch_model/data/0"));
            z.write(new byte[16]);
            z.closeEntry();
        }
        Files.write(bin, out.toByteArray());
        // data.pkl is deflated too: that one is inflated and read; the tensor record cannot be mapped.
        refused("tensor record 'pytorch_model/data/0' is compressed (zip method 8)");
    }

    @Test
    void legacyFormatsAreRefusedWithWhatToDo() throws Exception {
        // torch.save(..., _use_new_zipfile_serialization=False): PROTO 2, LONG1 magic 0x1950a86a20f9469cfc6c, ...
        Files.write(bin, new byte[] {(byte) 0x80, 2, (byte) 0x8a, 10, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20,
            0x6a, (byte) 0xa8, 0x50, 0x19, '.'});
        ModelFileException e = refused("legacy (pre-1.6, non-zip) PyTorch checkpoint");
        assertTrue(e.fix().contains("safetensors"), e.fix());
        byte[] tar = new byte[1024];
        System.arraycopy("ustar".getBytes(StandardCharsets.US_ASCII), 0, tar, 257, 5);
        Files.write(bin, tar);
        refused("legacy tar-format");
    }

    @Test
    void bigEndianAndTorchScriptArchives() throws Exception {
        Map<String, MemorySegment> records = new java.util.LinkedHashMap<>();
        records.put("pytorch_model/data.pkl", MemorySegment.ofArray(new byte[] {(byte) 0x80, 2, '}', '.'}));
        records.put("pytorch_model/byteorder", MemorySegment.ofArray("big".getBytes(StandardCharsets.US_ASCII)));
        TorchSaveWriter.writeZip(bin, records, "pytorch_model/.data/serialization_id");
        refused("big-endian");
        records.clear();
        records.put("model/constants.pkl", MemorySegment.ofArray(new byte[] {(byte) 0x80, 2, ')', '.'}));
        TorchSaveWriter.writeZip(bin, records, "model/.data/serialization_id");
        refused("TorchScript archive");
        records.clear();
        records.put("loose.txt", MemorySegment.ofArray(new byte[] {1}));
        TorchSaveWriter.writeZip(bin, records, "x/.data/serialization_id");
        refused("not inside a folder");
    }

    @Test
    void unknownStorageTypeAndDtypes() throws Exception {
        withRecords(List.of(new TorchSaveWriter.Record("w", "ComplexFloatStorage", "0", 4, 0, new long[] {4}, new long[] {1})), 4);
        refused("torch.ComplexFloatStorage");
        // A storage class applied as a function is not a tensor.
        withPickle(new byte[] {(byte) 0x80, 2, 'c', 't', 'o', 'r', 'c', 'h', '\n', 'F', 'l', 'o', 'a', 't', 'S', 't', 'o', 'r', 'a',
            'g', 'e', '\n', ')', 'R', '.'}, 1);
        refused("builds no object");
        // The writer knows every dtype a state dict of a Llama has.
        assertEquals("BFloat16Storage", TorchSaveWriter.storageType("BF16"));
    }
}
