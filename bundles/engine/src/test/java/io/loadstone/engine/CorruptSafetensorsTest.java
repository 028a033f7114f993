package io.loadstone.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged copies of the real stories260K-hf weights: every kind of damage must end in a
 * {@link ModelFileException} naming the file and the problem, never in another exception.
 */
class CorruptSafetensorsTest {

    private static final System.Logger LOG = System.getLogger(CorruptSafetensorsTest.class.getName());

    @TempDir
    Path dir;
    Path weights;
    byte[] original;

    @BeforeEach
    void copyModel() throws Exception {
        Path src = TestModels.model("stories260K-hf");
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        weights = dir.resolve("model.safetensors");
        original = Files.readAllBytes(src.resolve("model.safetensors"));
        Files.write(weights, original);
    }

    /** Opens the damaged folder and checks the error names the file and contains {@code expected}. */
    private ModelFileException refused(String expected) {
        ModelFileException e = assertThrows(ModelFileException.class,
                () -> EngineModel.open(dir, EngineOptions.builder().threads(1).build()).close());
        LOG.log(System.Logger.Level.INFO, e.getMessage());
        assertEquals(weights, e.file());
        assertTrue(e.getMessage().contains(weights.toString()), "message must name the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(expected), "message should mention '" + expected + "': " + e.getMessage());
        assertFalse(e.fix().isEmpty());
        return e;
    }

    @Test
    void intactCopyOpens() throws Exception {
        try (EngineModel m = EngineModel.open(dir, EngineOptions.builder().threads(1).build())) {
            assertEquals(5, m.config().numLayers());
        }
    }

    @Test
    void headerLengthPastEndOfFile() throws Exception {
        ByteBuffer.wrap(original).order(ByteOrder.LITTLE_ENDIAN).putLong(0, original.length);
        Files.write(weights, original);
        refused("runs past the end of the file");
    }

    @Test
    void headerLengthWithTopBitSet() throws Exception {
        ByteBuffer.wrap(original).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -5L);
        Files.write(weights, original);
        refused("18446744073709551611");
    }

    @Test
    void headerLengthOverTheHundredMegabyteLimit() throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(weights.toFile(), "rw")) {
            f.setLength(150_000_000L); // sparse: costs no disk
            f.seek(0);
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(120_000_000L).array());
        }
        refused("exceeds the safetensors limit");
    }

    @Test
    void fileShorterThanTheLengthField() throws Exception {
        Files.write(weights, new byte[] {1, 2, 3});
        refused("too short");
    }

    @Test
    void headerNotUtf8() throws Exception {
        Surgery s = new Surgery(weights);
        byte[] h = s.headerBytes();
        int at = new String(h, StandardCharsets.ISO_8859_1).indexOf("embed_tokens");
        h[at] = (byte) 0xff;
        Surgery.write(weights, h, s.data);
        refused("not valid UTF-8");
    }

    @Test
    void headerNotJson() throws Exception {
        Surgery s = new Surgery(weights);
        byte[] h = s.headerBytes();
        h[h.length - 1] = ' '; // drop the closing brace
        Surgery.write(weights, h, s.data);
        refused("not valid JSON");
    }

    @Test
    void duplicateKeyInHeader() throws Exception {
        Surgery s = new Surgery(weights);
        String name = s.byOffset().get(0);
        String json = Surgery.toJson(s.header);
        String entry = "\"" + name + "\":" + Surgery.toJson(s.tensor(name));
        json = json.substring(0, json.length() - 1) + "," + entry + "}";
        Surgery.write(weights, json.getBytes(StandardCharsets.UTF_8), s.data);
        refused("duplicate key \"" + name + "\"");
    }

    @Test
    void overlappingOffsets() throws Exception {
        Surgery s = new Surgery(weights);
        List<String> order = s.byOffset();
        String second = order.get(1);
        s.tensor(second).put("data_offsets", List.of(s.begin(second) - 4, s.end(second) - 4));
        s.write(weights);
        refused("overlap");
    }

    @Test
    void gapBetweenTensors() throws Exception {
        Surgery s = new Surgery(weights);
        String last = s.byOffset().getLast();
        // Move the last tensor 4 bytes later inside a file grown by 4 bytes.
        s.tensor(last).put("data_offsets", List.of(s.begin(last) + 4, s.end(last) + 4));
        byte[] grown = java.util.Arrays.copyOf(s.data, s.data.length + 4);
        Surgery.write(weights, s.headerBytes(), grown);
        refused("gap of 4 unused bytes");
    }

    @Test
    void shapeDisagreesWithByteRange() throws Exception {
        Surgery s = new Surgery(weights);
        s.tensor("model.norm.weight").put("shape", List.of(65L));
        s.write(weights);
        refused("dtype/shape mismatch");
    }

    @Test
    void dtypeDisagreesWithByteRange() throws Exception {
        Surgery s = new Surgery(weights);
        s.tensor("model.norm.weight").put("dtype", "F16");
        s.write(weights);
        refused("dtype/shape mismatch");
    }

    @Test
    void unknownDtype() throws Exception {
        Surgery s = new Surgery(weights);
        s.tensor("model.norm.weight").put("dtype", "F13");
        s.write(weights);
        refused("unknown dtype 'F13'");
    }

    @Test
    void truncatedData() throws Exception {
        Files.write(weights, java.util.Arrays.copyOf(original, original.length - 100));
        refused("truncated");
    }

    @Test
    void trailingBytesNoTensorDescribes() throws Exception {
        Files.write(weights, java.util.Arrays.copyOf(original, original.length + 16));
        refused("16 bytes after the last tensor");
    }

    @Test
    void negativeOrNonIntegerOffsets() throws Exception {
        Surgery s = new Surgery(weights);
        s.tensor("model.norm.weight").put("data_offsets", List.of(-4L, 252L));
        s.write(weights);
        refused("non-negative integers");
    }

    @Test
    void integerDtypeWhereFloatWeightsAreNeeded() throws Exception {
        Surgery s = new Surgery(weights);
        s.tensor("model.norm.weight").put("dtype", "I32");
        s.write(weights);
        refused("has dtype I32");
    }
}
