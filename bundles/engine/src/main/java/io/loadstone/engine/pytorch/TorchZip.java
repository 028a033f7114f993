package io.loadstone.engine.pytorch;

import io.loadstone.engine.ModelFileException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The zip container of a {@code torch.save} file, read from its central directory over a
 * memory-mapped file: entry names, methods, sizes and where each entry's bytes start.
 *
 * <p>What PyTorch writes (caffe2/serialize/inline_container.cc, {@code PyTorchStreamWriter}, on
 * miniz 3.0.2 with {@code MZ_ZIP_FLAG_WRITE_ZIP64}): every record uncompressed (method 0) under one
 * top-level folder (the saved file's base name, or {@code archive} for streams), its data aligned
 * to 64 bytes by an extra field {@code "FB"} of {@code 'Z'} padding in the local header, a data
 * descriptor after the data, then the central directory, a zip64 end-of-central-directory record
 * and locator, and the classic end record. The reader of record (PyTorchStreamReader) takes the
 * folder name from the first entry and finds the data of a record the same way as here:
 * central-directory local-header offset + 30 + the local header's name and extra lengths
 * ({@code getRecordOffset}). Only the central directory is trusted for sizes, since the local
 * headers carry zeros when a data descriptor follows (general-purpose bit 3).
 *
 * <p>Zip field layout: PKWARE APPNOTE.TXT sections 4.3.7 (local header), 4.3.12 (central
 * directory header), 4.3.14-4.3.16 (zip64 end records, end of central directory), 4.5.3 (zip64
 * extended information extra field).
 */
final class TorchZip {

    static final int STORED = 0;
    static final int DEFLATED = 8;

    private static final int LOCAL_SIG = 0x04034b50;
    private static final int CENTRAL_SIG = 0x02014b50;
    private static final int END_SIG = 0x06054b50;
    private static final int ZIP64_END_SIG = 0x06064b50;
    private static final int ZIP64_LOCATOR_SIG = 0x07064b50;
    private static final int END_SIZE = 22;
    private static final int ZIP64_LOCATOR_SIZE = 20;
    private static final int ZIP64_END_SIZE = 56;
    private static final int CENTRAL_SIZE = 46;
    private static final int LOCAL_SIZE = 30;
    private static final long U32 = 0xFFFFFFFFL;

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static final String REDOWNLOAD = "Download the file again (it is damaged or truncated), or use the model's safetensors version.";

    /**
     * One record of the archive.
     *
     * @param name        full name in the archive, e.g. {@code pytorch_model/data/0}
     * @param method      0 stored, 8 deflated, anything else unsupported
     * @param crc         CRC-32 of the uncompressed bytes from the central directory
     * @param compressed  bytes stored in the file
     * @param size        uncompressed bytes
     * @param dataOffset  file offset of the first stored byte
     */
    record Entry(String name, int method, int crc, long compressed, long size, long dataOffset) {
    }

    private final Path file;
    private final MemorySegment whole;
    private final Map<String, Entry> entries;
    private final String prefix;

    private TorchZip(Path file, MemorySegment whole, Map<String, Entry> entries, String prefix) {
        this.file = file;
        this.whole = whole;
        this.entries = entries;
        this.prefix = prefix;
    }

    /** Reads the central directory of the mapped {@code file}; {@code whole} is all of it. */
    static TorchZip read(Path file, MemorySegment whole) throws ModelFileException {
        long size = whole.byteSize();
        long end = findEnd(file, whole);
        long count = u16(whole, end + 10);
        long cdSize = u32(whole, end + 12);
        long cdOffset = u32(whole, end + 16);
        long cdLimit = end;
        // PyTorch always writes the zip64 records; other zip writers only when a field overflows.
        if (end >= ZIP64_LOCATOR_SIZE && whole.get(I32, end - ZIP64_LOCATOR_SIZE) == ZIP64_LOCATOR_SIG) {
            long z64 = whole.get(I64, end - ZIP64_LOCATOR_SIZE + 8);
            if (z64 < 0 || z64 > end - ZIP64_LOCATOR_SIZE - ZIP64_END_SIZE || whole.get(I32, z64) != ZIP64_END_SIG) {
                throw bad(file, "zip64 end-of-central-directory locator points to offset " + z64
                        + ", where there is no zip64 end record (bad central directory)");
            }
            count = whole.get(I64, z64 + 32);
            cdSize = whole.get(I64, z64 + 40);
            cdOffset = whole.get(I64, z64 + 48);
            cdLimit = z64;
        } else if (count == 0xFFFF || cdSize == U32 || cdOffset == U32) {
            throw bad(file, "end-of-central-directory record says zip64 but the zip64 records are missing "
                    + "(bad central directory)");
        }
        if (cdOffset < 0 || cdSize < 0 || cdOffset > cdLimit || cdSize > cdLimit - cdOffset) {
            throw bad(file, "central directory [" + cdOffset + ", +" + cdSize + ") lies outside the file (" + size
                    + " bytes): the file is truncated or its central directory is damaged");
        }
        if (count < 0 || count > cdSize / CENTRAL_SIZE) {
            throw bad(file, "central directory claims " + count + " entries in " + cdSize + " bytes (bad central directory)");
        }
        Map<String, Entry> out = new LinkedHashMap<>();
        long p = cdOffset;
        long cdEnd = cdOffset + cdSize;
        for (long i = 0; i < count; i++) {
            if (p > cdEnd - CENTRAL_SIZE || whole.get(I32, p) != CENTRAL_SIG) {
                throw bad(file, "central directory entry " + i + " at offset " + p + " is not a central directory header "
                        + "(bad central directory)");
            }
            int flags = u16(whole, p + 8);
            int method = u16(whole, p + 10);
            int crc = whole.get(I32, p + 16);
            long compressed = u32(whole, p + 20);
            long uncompressed = u32(whole, p + 24);
            int nameLen = u16(whole, p + 28);
            int extraLen = u16(whole, p + 30);
            int commentLen = u16(whole, p + 32);
            long local = u32(whole, p + 42);
            long next = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
            if (next > cdEnd) {
                throw bad(file, "central directory entry " + i + " runs past the end of the central directory (bad central directory)");
            }
            String name = utf8(file, whole.asSlice(p + CENTRAL_SIZE, nameLen));
            // zip64 extended information (APPNOTE 4.5.3): present values only, in this order.
            long x = p + CENTRAL_SIZE + nameLen;
            long xEnd = x + extraLen;
            while (x + 4 <= xEnd) {
                int id = u16(whole, x);
                int len = u16(whole, x + 2);
                long v = x + 4;
                if (v + len > xEnd) {
                    throw bad(file, "entry '" + name + "' has an extra field running past its end (bad central directory)");
                }
                if (id == 1) {
                    long fieldEnd = v + len;
                    if (uncompressed == U32) {
                        uncompressed = readZip64(file, whole, name, v, fieldEnd);
                        v += 8;
                    }
                    if (compressed == U32) {
                        compressed = readZip64(file, whole, name, v, fieldEnd);
                        v += 8;
                    }
                    if (local == U32) {
                        local = readZip64(file, whole, name, v, fieldEnd);
                    }
                }
                x += 4 + len;
            }
            if ((flags & 1) != 0) {
                throw new ModelFileException(file, "entry '" + name + "' is encrypted", "Use an unencrypted checkpoint.");
            }
            if (local < 0 || local > cdOffset - LOCAL_SIZE || whole.get(I32, local) != LOCAL_SIG) {
                throw bad(file, "entry '" + name + "': local header offset " + local
                        + " does not point to a local file header (bad central directory or truncated file)");
            }
            long data = local + LOCAL_SIZE + u16(whole, local + 26) + u16(whole, local + 28);
            if (compressed < 0 || uncompressed < 0 || data > cdOffset || compressed > cdOffset - data) {
                throw bad(file, "entry '" + name + "' (" + compressed + " bytes at offset " + data
                        + ") runs into the central directory at " + cdOffset + ": the file is truncated or damaged");
            }
            if (method == STORED && compressed != uncompressed) {
                throw bad(file, "stored entry '" + name + "' has compressed size " + compressed + " but size " + uncompressed);
            }
            if (out.put(name, new Entry(name, method, crc, compressed, uncompressed, data)) != null) {
                throw bad(file, "entry '" + name + "' appears twice in the central directory");
            }
            p = next;
        }
        if (out.isEmpty()) {
            throw bad(file, "zip archive has no entries");
        }
        // PyTorchStreamReader::init: every record sits in one folder named by the first entry.
        String first = out.keySet().iterator().next();
        int slash = first.indexOf('/');
        if (slash <= 0) {
            throw new ModelFileException(file, "is a zip archive but not a PyTorch checkpoint: its first entry '" + first
                    + "' is not inside a folder", "Use a checkpoint written by torch.save, or its safetensors version.");
        }
        return new TorchZip(file, whole, Collections.unmodifiableMap(out), first.substring(0, slash + 1));
    }

    private static long readZip64(Path file, MemorySegment whole, String name, long at, long limit) throws ModelFileException {
        if (at + 8 > limit) {
            throw bad(file, "entry '" + name + "' lacks a zip64 size or offset its header promises (bad central directory)");
        }
        return whole.get(I64, at);
    }

    /** The end-of-central-directory record: the last 22 bytes, unless a zip comment follows. */
    private static long findEnd(Path file, MemorySegment whole) throws ModelFileException {
        long size = whole.byteSize();
        long last = size - END_SIZE;
        long stop = Math.max(0, last - 0xFFFF);
        for (long p = last; p >= stop; p--) {
            if (whole.get(I32, p) == END_SIG && p + END_SIZE + u16(whole, p + 20) == size) {
                return p;
            }
        }
        throw bad(file, "has no zip end-of-central-directory record in its last bytes: the file is truncated "
                + "(an interrupted download?) or not a zip archive");
    }

    /** The folder all records are in, with its slash ({@code pytorch_model/}). */
    String prefix() {
        return prefix;
    }

    /** The record {@code name} (relative to the folder), or null. */
    Entry record(String name) {
        return entries.get(prefix + name);
    }

    Map<String, Entry> entries() {
        return entries;
    }

    /**
     * The bytes of a small record (data.pkl, version, byteorder), inflated if need be and
     * checked against the CRC-32 of the central directory.
     */
    byte[] bytes(Entry e, long maxSize) throws ModelFileException {
        if (e.size() > maxSize) {
            throw bad(file, "record '" + e.name() + "' is " + e.size() + " bytes, more than the " + maxSize + " allowed");
        }
        byte[] out;
        if (e.method() == STORED) {
            out = whole.asSlice(e.dataOffset(), e.size()).toArray(ValueLayout.JAVA_BYTE);
        } else if (e.method() == DEFLATED) {
            out = new byte[(int) e.size()];
            Inflater inf = new Inflater(true);
            try {
                inf.setInput(whole.asSlice(e.dataOffset(), e.compressed()).asByteBuffer());
                int n = 0;
                while (n < out.length) {
                    int r = inf.inflate(out, n, out.length - n);
                    if (r == 0 && (inf.finished() || inf.needsInput() || inf.needsDictionary())) {
                        break;
                    }
                    n += r;
                }
                if (n != out.length) {
                    throw bad(file, "record '" + e.name() + "' inflates to " + n + " bytes, not " + e.size());
                }
            } catch (DataFormatException ex) {
                throw bad(file, "record '" + e.name() + "' is not valid deflate data: " + ex.getMessage());
            } finally {
                inf.end();
            }
        } else {
            throw bad(file, "record '" + e.name() + "' uses zip compression method " + e.method()
                    + "; only stored (0) and deflate (8) are read");
        }
        CRC32 crc = new CRC32();
        crc.update(out);
        if ((int) crc.getValue() != e.crc()) {
            throw bad(file, "record '" + e.name() + "' fails its CRC-32 check (the file is damaged)");
        }
        return out;
    }

    /**
     * The bytes of a tensor storage record, mapped straight from the file. Only stored records
     * can be mapped; PyTorch never compresses them, so a compressed one was re-packed by some
     * other tool. The CRC is not checked here: that would read every weight at load.
     */
    MemorySegment mapped(Entry e) throws ModelFileException {
        if (e.method() != STORED) {
            throw new ModelFileException(file, "tensor record '" + e.name() + "' is compressed (zip method " + e.method()
                    + "); Loadstone maps tensor data straight from the file and cannot read compressed records "
                    + "(torch.save never compresses them: the file was re-zipped by another tool)",
                    "Re-save the checkpoint with torch.save, or convert it to safetensors.");
        }
        return whole.asSlice(e.dataOffset(), e.size());
    }

    private static int u16(MemorySegment s, long at) {
        return Short.toUnsignedInt(s.get(I16, at));
    }

    private static long u32(MemorySegment s, long at) {
        return Integer.toUnsignedLong(s.get(I32, at));
    }

    private static String utf8(Path file, MemorySegment bytes) throws ModelFileException {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes.asByteBuffer()).toString();
        } catch (CharacterCodingException e) {
            throw bad(file, "an entry name in the central directory is not valid UTF-8 (bad central directory)");
        }
    }

    static ModelFileException bad(Path file, String problem) {
        return new ModelFileException(file, problem, REDOWNLOAD);
    }
}
