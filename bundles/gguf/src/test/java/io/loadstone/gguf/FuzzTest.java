package io.loadstone.gguf;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random byte changes in the header region must give either a valid file or a GgufException:
 * never another exception, never a hang, never a huge allocation.
 */
class FuzzTest {

    @TempDir
    Path dir;

    @Test
    void flippedBytesInTheRealFileHeader() throws IOException {
        Path src = TestFiles.stories();
        long headerEnd = GgufFile.read(src).dataOffset();
        fuzz(src, headerEnd, 4000, 0x5EED_0001L);
    }

    @Test
    void flippedBytesInAWriterFile() throws IOException {
        Path src = dir.resolve("all.gguf");
        RoundTripTest.everyType(new GgufWriter()).write(src);
        // the whole file: header, every value type, tensor table, padding and data
        fuzz(src, Files.size(src), 3000, 0x5EED_0002L);
    }

    /** Mutates 1-4 bytes of [0, regionEnd) per iteration, in place, restoring them afterwards. */
    private void fuzz(Path src, long regionEnd, int iterations, long seed) throws IOException {
        Path copy = dir.resolve("fuzz-" + seed + ".gguf");
        Files.copy(src, copy);
        byte[] original = Files.readAllBytes(src);
        Random random = new Random(seed);
        int valid = 0;
        int invalid = 0;
        try (FileChannel ch = FileChannel.open(copy, StandardOpenOption.WRITE)) {
            for (int it = 0; it < iterations; it++) {
                int n = 1 + random.nextInt(4);
                long[] at = new long[n];
                for (int k = 0; k < n; k++) {
                    // bias towards the first 64 bytes, where counts and the first lengths live
                    at[k] = random.nextInt(4) == 0 ? random.nextInt(64) : (long) (random.nextDouble() * regionEnd);
                    byte b = random.nextBoolean() ? (byte) random.nextInt(256)
                            : (byte) (original[(int) at[k]] ^ (1 << random.nextInt(8)));
                    ch.write(ByteBuffer.wrap(new byte[] {b}), at[k]);
                }
                try {
                    GgufFile f = GgufFile.read(copy);
                    f.describe();
                    f.parameterCount();
                    valid++;
                } catch (GgufException e) {
                    TestFiles.wellFormed(e, copy);
                    invalid++;
                } catch (RuntimeException | Error e) {
                    throw new AssertionError("seed " + seed + ", iteration " + it + ": " + e, e);
                }
                for (int k = 0; k < n; k++) {
                    ch.write(ByteBuffer.wrap(original, (int) at[k], 1), at[k]);
                }
            }
        }
        // both outcomes must occur, or the mutations did not test anything
        assertTrue(valid > 0 && invalid > iterations / 10, valid + " valid, " + invalid + " invalid");
    }
}
