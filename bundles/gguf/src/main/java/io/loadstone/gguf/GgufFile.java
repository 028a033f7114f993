package io.loadstone.gguf;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;

/**
 * The header, metadata and tensor table of a GGUF file, read and validated by {@link #read}.
 * Immutable and thread-safe. Tensor data is not read; it lies at {@link #dataOffset()} +
 * {@link GgufTensor#offset()} in {@link #path()}.
 */
public final class GgufFile {

    private static final System.Logger LOG = System.getLogger(GgufFile.class.getName());

    private final Path path;
    private final int version;
    private final long fileSize;
    private final Map<String, Object> metadata;
    private final Map<String, GgufValueType> types;
    private final List<GgufTensor> tensors;
    private final long dataOffset;
    private final int alignment;

    GgufFile(Path path, int version, long fileSize, Map<String, Object> metadata,
            Map<String, GgufValueType> types, List<GgufTensor> tensors, long dataOffset, int alignment) {
        this.path = path;
        this.version = version;
        this.fileSize = fileSize;
        this.metadata = metadata;
        this.types = types;
        this.tensors = tensors;
        this.dataOffset = dataOffset;
        this.alignment = alignment;
    }

    /**
     * Reads and validates the header, metadata and tensor table of {@code file}.
     *
     * <p>Refused, each with a {@link GgufException} naming the file, the byte offset and a fix:
     * a magic other than {@code GGUF}; versions other than 2 and 3 (version 1 and big-endian
     * files get their own message); counts or lengths the rest of the file cannot hold (checked
     * before anything is allocated; metadata and tensor table together may take at most 256 MiB
     * of the file and 512 MiB of heap);
     * invalid UTF-8 in any string; unknown value types; booleans other than 0/1; arrays nested
     * more than 8 deep; empty, duplicate or NUL-containing keys; a {@code general.alignment}
     * that is not a UINT32 power of two; tensor names that are duplicate, contain NUL or are
     * longer than 63 bytes; 0 or more than 4 dimensions; a dimension below 1; element counts or
     * byte sizes that overflow 64 bits; unknown ggml types; rows that are not a whole number of
     * blocks; offsets not aligned; data that does not lie inside the file; overlapping tensors;
     * and, as llama.cpp requires, tensors not stored back to back in table order.
     *
     * <p>Reads only the header region through a small buffer, so a file of many gigabytes is
     * checked in milliseconds.
     */
    public static GgufFile read(Path file) throws GgufException {
        return read(file, GgufParser.MAX_HEADER_BYTES, GgufParser.MAX_METADATA_HEAP);
    }

    /** {@link #read(Path)} with other limits, for tests. */
    static GgufFile read(Path file, long maxHeaderBytes, long maxHeap) throws GgufException {
        Objects.requireNonNull(file, "file");
        long start = System.nanoTime();
        if (Files.isDirectory(file)) {
            throw new GgufException(file, -1, "is a directory, not a GGUF file", "Choose the .gguf file itself.");
        }
        GgufFile result;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            result = new GgufParser(file, channel, channel.size(), maxHeaderBytes, maxHeap).parse();
        } catch (GgufException e) {
            LOG.log(Level.DEBUG, () -> "refused " + file + ": " + e.getMessage());
            throw e;
        } catch (NoSuchFileException e) {
            throw new GgufException(file, -1, "file not found", "Check the path and file name.", e);
        } catch (AccessDeniedException e) {
            throw new GgufException(file, -1, "permission denied",
                    "Make the file readable for the user running Loadstone.", e);
        } catch (IOException e) {
            throw new GgufException(file, -1, "cannot be read: " + e.getMessage(),
                    "Check that the disk is healthy and the file is readable.", e);
        }
        LOG.log(Level.DEBUG, () -> String.format(Locale.ROOT, "read %s (%s) in %.2f ms", file,
                result.describe(), (System.nanoTime() - start) / 1e6));
        return result;
    }

    /**
     * Whether {@code file} starts with the GGUF magic. A cheap first look for format detection;
     * it checks nothing else, so use {@link #read} before trusting the file.
     */
    public static boolean looksLikeGguf(Path file) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer magic = ByteBuffer.allocate(4);
            while (magic.hasRemaining() && channel.read(magic) >= 0) {
                // keep reading until 4 bytes or end of file
            }
            return !magic.hasRemaining() && magic.get(0) == 'G' && magic.get(1) == 'G' && magic.get(2) == 'U'
                    && magic.get(3) == 'F';
        } catch (IOException e) {
            return false;
        }
    }

    /** The file this was read from. */
    public Path path() {
        return path;
    }

    /** The GGUF version: 2 or 3. */
    public int version() {
        return version;
    }

    /** The file's size in bytes when it was read. */
    public long fileSize() {
        return fileSize;
    }

    /**
     * All metadata in file order. Values are boxed as {@link GgufValueType} describes:
     * Byte/Short/Integer/Long for integers (unsigned types widened, UINT64 as the same 64 bits),
     * Float/Double, Boolean, String, and {@link GgufArray} (a {@code List<Object>}) for arrays.
     */
    public Map<String, Object> metadata() {
        return metadata;
    }

    /** The GGUF type of the value stored under {@code key}. */
    public Optional<GgufValueType> valueType(String key) {
        return Optional.ofNullable(types.get(key));
    }

    /** The string stored under {@code key}, if it is a string. */
    public Optional<String> string(String key) {
        return metadata.get(key) instanceof String s ? Optional.of(s) : Optional.empty();
    }

    /**
     * The integer stored under {@code key}, of any GGUF integer type. A UINT64 of 2<sup>63</sup>
     * or more comes back negative (same bits).
     */
    public OptionalLong integer(String key) {
        Object v = metadata.get(key);
        return v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte
                ? OptionalLong.of(((Number) v).longValue()) : OptionalLong.empty();
    }

    /** The number stored under {@code key}, of any GGUF numeric type (UINT64 read as unsigned). */
    public OptionalDouble number(String key) {
        Object v = metadata.get(key);
        if (!(v instanceof Number n)) {
            return OptionalDouble.empty();
        }
        if (types.get(key) == GgufValueType.UINT64 && n.longValue() < 0) {
            long raw = n.longValue();
            return OptionalDouble.of((double) (raw >>> 1) * 2.0 + (raw & 1));
        }
        return OptionalDouble.of(n.doubleValue());
    }

    /** The array stored under {@code key}, if it is an array. */
    public Optional<GgufArray> array(String key) {
        return metadata.get(key) instanceof GgufArray a ? Optional.of(a) : Optional.empty();
    }

    /** {@code general.architecture}, e.g. "llama", or "" if the file has none. */
    public String architecture() {
        return string("general.architecture").orElse("");
    }

    /** {@code <architecture>.context_length}: the context the model was trained with. */
    public OptionalLong contextLength() {
        String arch = architecture();
        return arch.isEmpty() ? OptionalLong.empty() : integer(arch + ".context_length");
    }

    /** {@code <architecture>.rope.freq_base} (llama.cpp's default is 10000 when absent). */
    public OptionalDouble ropeFreqBase() {
        String arch = architecture();
        return arch.isEmpty() ? OptionalDouble.empty() : number(arch + ".rope.freq_base");
    }

    /** {@code tokenizer.chat_template}, a Jinja template. */
    public Optional<String> chatTemplate() {
        return string("tokenizer.chat_template");
    }

    /** The tensor table in file order. */
    public List<GgufTensor> tensors() {
        return tensors;
    }

    /** The tensor called {@code name}. */
    public Optional<GgufTensor> tensor(String name) {
        for (GgufTensor t : tensors) {
            if (t.name().equals(name)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** Absolute file offset of the tensor data section; each tensor starts at this plus its offset. */
    public long dataOffset() {
        return dataOffset;
    }

    /** {@code general.alignment}, or 32 when absent. */
    public int alignment() {
        return alignment;
    }

    /** Total number of tensor elements (weights). */
    public long parameterCount() {
        long n = 0;
        for (GgufTensor t : tensors) {
            n += t.elementCount();
        }
        return n;
    }

    /**
     * The element type most parameters are stored in, e.g. Q4_K for a Q4_K_M file (which also
     * holds Q6_K and F32 tensors); empty if there are no tensors.
     */
    public Optional<GgmlType> predominantType() {
        Map<GgmlType, Long> byType = new EnumMap<>(GgmlType.class);
        for (GgufTensor t : tensors) {
            byType.merge(t.type(), t.elementCount(), Long::sum);
        }
        return byType.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey);
    }

    /** Short human text, e.g. "GGUF v3, architecture llama, 292.8K parameters, F32". */
    public String describe() {
        StringBuilder sb = new StringBuilder("GGUF v").append(version);
        String arch = architecture();
        sb.append(arch.isEmpty() ? ", no architecture" : ", architecture " + arch);
        if (tensors.isEmpty()) {
            return sb.append(", no tensors").toString();
        }
        sb.append(", ").append(humanCount(parameterCount())).append(" parameters, ");
        GgmlType main = predominantType().orElseThrow();
        boolean mixed = tensors.stream().anyMatch(t -> t.type() != main);
        return sb.append(mixed ? "mostly " : "").append(main).toString();
    }

    static String humanCount(long n) {
        if (n < 1000) {
            return Long.toString(n);
        }
        String[] units = {"K", "M", "B", "T"};
        double v = n;
        int u = -1;
        while (v >= 999.95 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f%s", v, units[u]);
    }

    @Override
    public String toString() {
        return path.getFileName() + ": " + describe();
    }
}
