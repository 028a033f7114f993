package io.loadstone.engine.safetensors;

import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.json.Json;
import io.loadstone.engine.json.JsonException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One {@code .safetensors} file, validated and memory-mapped.
 *
 * <p>Layout: 8 bytes little-endian header length N, N bytes of UTF-8 JSON, then the data
 * buffer. Validation follows the reference implementation (huggingface/safetensors): header at
 * most 100 MB, strict UTF-8 and JSON without duplicate keys, every tensor's byte range equal to
 * its shape times its dtype size, ranges neither overlapping nor leaving gaps, and together
 * covering the data buffer exactly (so a truncated download is caught here, not as a crash at
 * the first matrix product).
 *
 * <p>The whole file is mapped once into the caller's arena; tensors are read-only slices, so
 * nothing is copied and closing the arena unmaps it.
 */
public final class SafetensorsFile {

    /** The reference implementation's limit; real headers are a few hundred kilobytes. */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final String REDOWNLOAD = "Download the file again (it is damaged, truncated or not a safetensors file).";

    private final Path path;
    private final long fileSize;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, long fileSize, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.fileSize = fileSize;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Reads and checks the header of {@code file}, then maps the file into {@code arena}. */
    public static SafetensorsFile open(Path file, Arena arena) throws ModelFileException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new ModelFileException(file, "is " + size + " bytes long, too short for a safetensors file "
                        + "(the first 8 bytes hold the header length)", REDOWNLOAD);
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long n = lenBuf.getLong(0);
            if (Long.compareUnsigned(n, size - 8) > 0) {
                throw new ModelFileException(file, "header length " + Long.toUnsignedString(n)
                        + " (first 8 bytes) runs past the end of the file (" + size + " bytes): the file is truncated "
                        + "or not a safetensors file", REDOWNLOAD);
            }
            if (n > MAX_HEADER_BYTES) {
                throw new ModelFileException(file, "header length " + n + " exceeds the safetensors limit of "
                        + MAX_HEADER_BYTES + " bytes", REDOWNLOAD);
            }
            ByteBuffer header = ByteBuffer.allocate((int) n);
            readFully(ch, header, 8);
            String json = decodeUtf8(file, header.flip());
            Parsed parsed = parseHeader(file, json);
            long dataSize = size - 8 - n;
            List<Range> ranges = checkRanges(file, parsed.ranges, dataSize, size);

            MemorySegment whole = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena).asReadOnly();
            Map<String, TensorInfo> out = new LinkedHashMap<>();
            for (Range r : ranges) {
                MemorySegment slice = whole.asSlice(8 + n + r.begin, r.end - r.begin);
                out.put(r.name, new TensorInfo(r.name, r.dtype, r.shape, file, slice));
            }
            return new SafetensorsFile(file, size, Collections.unmodifiableMap(out), parsed.metadata);
        } catch (NoSuchFileException e) {
            throw new ModelFileException(file, "file not found", "Check the model folder; download the model again if files are missing.", e);
        } catch (AccessDeniedException e) {
            throw new ModelFileException(file, "cannot be read (permission denied)", "Make the file readable for this user.", e);
        } catch (IOException e) {
            throw new ModelFileException(file, "cannot be read: " + e.getMessage(), "Check the disk and the file.", e);
        }
    }

    public Path path() {
        return path;
    }

    public long fileSize() {
        return fileSize;
    }

    /** Tensors in file order (by offset). */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** The {@code __metadata__} map (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos);
            if (r < 0) {
                throw new IOException("unexpected end of file at byte " + pos);
            }
            pos += r;
        }
    }

    private static String decodeUtf8(Path file, ByteBuffer bytes) throws ModelFileException {
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        CharBuffer out = CharBuffer.allocate(bytes.remaining());
        CoderResult r = dec.decode(bytes, out, true);
        if (r.isError()) {
            throw new ModelFileException(file, "header is not valid UTF-8 (bad byte at file offset " + (8 + bytes.position())
                    + ")", REDOWNLOAD);
        }
        dec.flush(out);
        return out.flip().toString();
    }

    private record Range(String name, DType dtype, long[] shape, long begin, long end) {
    }

    private record Parsed(List<Range> ranges, Map<String, String> metadata) {
    }

    private static Parsed parseHeader(Path file, String json) throws ModelFileException {
        Map<String, Object> root;
        try {
            root = Json.parseObject(json);
        } catch (JsonException e) {
            throw new ModelFileException(file, "header is not valid JSON: " + e.getMessage(), REDOWNLOAD, e);
        }
        List<Range> ranges = new ArrayList<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<String, Object> e : root.entrySet()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                metadata = readMetadata(file, e.getValue());
                continue;
            }
            if (!(e.getValue() instanceof Map<?, ?> t)) {
                throw bad(file, "header entry '" + name + "' is " + Json.typeName(e.getValue()) + ", not a tensor description");
            }
            Object dt = t.get("dtype");
            if (!(dt instanceof String dtypeName)) {
                throw bad(file, "tensor '" + name + "' has no dtype string");
            }
            DType dtype = DType.of(dtypeName).orElseThrow(() -> DType.isSubByte(dtypeName)
                    ? new ModelFileException(file, "tensor '" + name + "' has dtype " + dtypeName
                            + ", a sub-byte type this reader does not support", "Use a checkpoint stored in F32, F16 or BF16.")
                    : bad(file, "tensor '" + name + "' has unknown dtype '" + dtypeName + "' (known: " + DType.known() + ")"));
            long[] shape = readLongs(file, name, "shape", t.get("shape"), -1);
            long[] offsets = readLongs(file, name, "data_offsets", t.get("data_offsets"), 2);
            if (offsets[1] < offsets[0]) {
                throw bad(file, "tensor '" + name + "' has data_offsets [" + offsets[0] + ", " + offsets[1] + "] that end before they begin");
            }
            long bytes;
            try {
                long n = 1;
                for (long d : shape) {
                    n = Math.multiplyExact(n, d);
                }
                bytes = Math.multiplyExact(n, dtype.size());
            } catch (ArithmeticException overflow) {
                throw bad(file, "tensor '" + name + "' has shape " + java.util.Arrays.toString(shape) + " whose size overflows");
            }
            if (bytes != offsets[1] - offsets[0]) {
                throw bad(file, "tensor '" + name + "': dtype/shape mismatch: " + dtype + " " + java.util.Arrays.toString(shape)
                        + " needs " + bytes + " bytes but data_offsets [" + offsets[0] + ", " + offsets[1] + "] hold "
                        + (offsets[1] - offsets[0]));
            }
            ranges.add(new Range(name, dtype, shape, offsets[0], offsets[1]));
        }
        return new Parsed(ranges, metadata);
    }

    private static Map<String, String> readMetadata(Path file, Object v) throws ModelFileException {
        if (!(v instanceof Map<?, ?> m)) {
            throw bad(file, "__metadata__ is " + Json.typeName(v) + ", not an object of strings");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw bad(file, "__metadata__ entry '" + e.getKey() + "' is " + Json.typeName(e.getValue()) + ", not a string");
            }
            out.put((String) e.getKey(), s);
        }
        return Collections.unmodifiableMap(out);
    }

    private static long[] readLongs(Path file, String tensor, String key, Object v, int expectedLength) throws ModelFileException {
        if (!(v instanceof List<?> list)) {
            throw bad(file, "tensor '" + tensor + "' has no " + key + " array");
        }
        if (expectedLength >= 0 && list.size() != expectedLength) {
            throw bad(file, "tensor '" + tensor + "': " + key + " has " + list.size() + " entries, not " + expectedLength);
        }
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(list.get(i) instanceof Long l) || l < 0) {
                throw bad(file, "tensor '" + tensor + "': " + key + " must hold non-negative integers, found " + list.get(i));
            }
            out[i] = l;
        }
        return out;
    }

    /** Sorts by offset and checks that the ranges tile the data buffer exactly. */
    private static List<Range> checkRanges(Path file, List<Range> ranges, long dataSize, long fileSize) throws ModelFileException {
        List<Range> sorted = new ArrayList<>(ranges);
        sorted.sort(Comparator.comparingLong(Range::begin).thenComparingLong(Range::end));
        long maxEnd = 0;
        for (Range r : sorted) {
            maxEnd = Math.max(maxEnd, r.end);
        }
        if (maxEnd > dataSize) {
            Range last = sorted.stream().filter(r -> r.end > dataSize).findFirst().orElseThrow();
            throw new ModelFileException(file, "truncated or out-of-file offsets: tensor '" + last.name + "' ends at data byte "
                    + last.end + " but only " + dataSize + " data bytes follow the header (file is " + fileSize
                    + " bytes, the header describes " + (fileSize - dataSize + maxEnd) + ")", REDOWNLOAD);
        }
        Range prev = null;
        long expected = 0;
        for (Range r : sorted) {
            if (r.begin < expected) {
                throw bad(file, "tensors '" + prev.name + "' [" + prev.begin + ", " + prev.end + ") and '" + r.name + "' ["
                        + r.begin + ", " + r.end + ") overlap");
            }
            if (r.begin > expected) {
                throw bad(file, "gap of " + (r.begin - expected) + " unused bytes before tensor '" + r.name + "' at data byte "
                        + expected + " (safetensors requires contiguous data)");
            }
            expected = r.end;
            prev = r;
        }
        if (expected != dataSize) {
            throw bad(file, (dataSize - expected) + " bytes after the last tensor that no tensor describes "
                    + "(the header and the file size disagree)");
        }
        return sorted;
    }

    private static ModelFileException bad(Path file, String problem) {
        return new ModelFileException(file, problem, REDOWNLOAD);
    }
}
