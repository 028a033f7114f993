package io.loadstone.testsupport;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Writes a safetensors file the way the reference implementation does (header padded with
 * spaces to a multiple of 8, tensors contiguous in the given order). Tensor bytes are produced
 * straight into the mapped output, so multi-gigabyte synthetic checkpoints (benchmarks) need no
 * heap.
 *
 * <p>A fixture writer, written from the format's specification and independent of the engine's
 * reader it feeds: element types are the safetensors names ({@code "F32"}); an enum constant whose
 * name is one (the engine's {@code DType}) is accepted too, so tests pass what they read.
 */
public final class SafetensorsWriter {

    /**
     * One tensor to write; {@code fill} receives a segment of exactly the tensor's byte size
     * (zeroed) and writes the little-endian values.
     */
    public record Tensor(String name, String dtype, long[] shape, Consumer<MemorySegment> fill) {

        public Tensor(String name, Enum<?> dtype, long[] shape, Consumer<MemorySegment> fill) {
            this(name, dtype.name(), shape, fill);
        }

        long byteSize() {
            long n = elementSize(dtype);
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    /** Bytes per element of each safetensors dtype (huggingface/safetensors {@code Dtype::size}). */
    private static final Map<String, Integer> ELEMENT_SIZES = Map.ofEntries(Map.entry("BOOL", 1), Map.entry("U8", 1),
            Map.entry("I8", 1), Map.entry("F8_E5M2", 1), Map.entry("F8_E4M3", 1), Map.entry("F8_E8M0", 1),
            Map.entry("I16", 2), Map.entry("U16", 2), Map.entry("F16", 2), Map.entry("BF16", 2), Map.entry("I32", 4),
            Map.entry("U32", 4), Map.entry("F32", 4), Map.entry("F64", 8), Map.entry("I64", 8), Map.entry("U64", 8),
            Map.entry("C64", 8));

    private SafetensorsWriter() {
    }

    /** Bytes per element of the safetensors dtype {@code dtype}. */
    public static int elementSize(String dtype) {
        Integer size = ELEMENT_SIZES.get(dtype);
        if (size == null) {
            throw new IllegalArgumentException("not a safetensors dtype: " + dtype);
        }
        return size;
    }

    public static void write(Path file, Map<String, String> metadata, List<Tensor> tensors) throws IOException {
        StringBuilder h = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            h.append("\"__metadata__\":{");
            boolean first = true;
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                h.append(first ? "" : ",").append(quote(e.getKey())).append(':').append(quote(e.getValue()));
                first = false;
            }
            h.append('}');
        }
        long offset = 0;
        for (Tensor t : tensors) {
            if (h.length() > 1) {
                h.append(',');
            }
            long end = offset + t.byteSize();
            h.append(quote(t.name())).append(":{\"dtype\":\"").append(t.dtype()).append("\",\"shape\":[");
            for (int i = 0; i < t.shape().length; i++) {
                h.append(i == 0 ? "" : ",").append(t.shape()[i]);
            }
            h.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        h.append('}');
        while (h.toString().getBytes(StandardCharsets.UTF_8).length % 8 != 0) {
            h.append(' ');
        }
        byte[] header = h.toString().getBytes(StandardCharsets.UTF_8);
        long total = 8 + header.length + offset;
        // Written under a temporary name and moved into place, so an interrupted write never
        // leaves a plausible-looking file behind.
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        // Shared, so that a fill callback may split its work across threads.
        try (Arena arena = Arena.ofShared();
                FileChannel ch = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                        StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MemorySegment out = ch.map(FileChannel.MapMode.READ_WRITE, 0, total, arena);
            out.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0, header.length);
            MemorySegment.copy(MemorySegment.ofArray(header), 0, out, 8, header.length);
            long pos = 8 + header.length;
            for (Tensor t : tensors) {
                t.fill().accept(out.asSlice(pos, t.byteSize()));
                pos += t.byteSize();
            }
            out.force();
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(partial);
            throw e;
        }
        Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
