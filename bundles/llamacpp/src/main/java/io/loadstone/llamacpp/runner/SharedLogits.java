package io.loadstone.llamacpp.runner;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Logits cross from the runner to the server through a memory-mapped file instead of the
 * pipe: the runner writes rows of floats at offset 0 and answers with how many; the server
 * copies them out of its own mapping of the same file. A perplexity window of 512 tokens over a
 * 32k vocabulary is 64 MB, which the pipe would copy twice more. The file only grows; each
 * side remaps when the other has grown it. Not thread-safe: both ends use it under their
 * channel's request/response turn.
 */
final class SharedLogits implements AutoCloseable {

    private final Path file;
    private final boolean writer;
    private Arena arena;
    private MemorySegment segment = MemorySegment.NULL;

    SharedLogits(Path file, boolean writer) {
        this.file = file;
        this.writer = writer;
    }

    Path file() {
        return file;
    }

    /** Runner side: writes {@code rows} (each of the same length) at offset 0; returns the file size to announce. */
    long write(float[]... rows) throws IOException {
        long floats = 0;
        for (float[] r : rows) {
            floats += r.length;
        }
        ensure(floats * Float.BYTES);
        long offset = 0;
        for (float[] r : rows) {
            MemorySegment.copy(r, 0, segment, ValueLayout.JAVA_FLOAT, offset, r.length);
            offset += (long) r.length * Float.BYTES;
        }
        return segment.byteSize();
    }

    /** Server side: {@code rows} rows of {@code width} floats from offset 0, after the runner announced {@code size}. */
    float[][] read(int rows, int width, long size) throws IOException {
        if (segment.byteSize() < size) {
            map(size);
        }
        float[][] out = new float[rows][width];
        long offset = 0;
        for (int r = 0; r < rows; r++) {
            MemorySegment.copy(segment, ValueLayout.JAVA_FLOAT, offset, out[r], 0, width);
            offset += (long) width * Float.BYTES;
        }
        return out;
    }

    private void ensure(long bytes) throws IOException {
        if (segment.byteSize() >= bytes) {
            return;
        }
        // Grow by doubling so that a sequence of ever longer evaluations remaps rarely.
        map(Math.max(bytes, segment.byteSize() * 2));
    }

    private void map(long size) throws IOException {
        close();
        Arena next = Arena.ofShared();
        try (FileChannel ch = writer
                ? FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(file, StandardOpenOption.READ)) {
            if (writer && ch.size() < size) {
                ch.write(ByteBuffer.wrap(new byte[1]), size - 1);
            }
            segment = ch.map(writer ? FileChannel.MapMode.READ_WRITE : FileChannel.MapMode.READ_ONLY, 0, size, next);
            arena = next;
        } catch (IOException | RuntimeException e) {
            next.close();
            throw e;
        }
    }

    @Override
    public void close() {
        if (arena != null) {
            arena.close();
            arena = null;
            segment = MemorySegment.NULL;
        }
    }
}
