package io.loadstone.testsupport;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Writes a state dict the way {@code torch.save(state_dict, path)} of PyTorch 2.x does, so tests
 * (and the benchmarks) get {@code pytorch_model*.bin} files without PyTorch. Nothing in the
 * engine reads through this class; it is the fixture writer for the engine's {@code PytorchFile}.
 *
 * <p>The pickle (torch/serialization.py {@code _save}, protocol 2, emulating CPython's C
 * {@code _pickle.Pickler}): {@code PROTO 2}; the dict ({@code EMPTY_DICT BINPUT}, or for an
 * {@code OrderedDict} {@code GLOBAL collections OrderedDict BINPUT EMPTY_TUPLE REDUCE BINPUT});
 * its items (one item: {@code key value SETITEM}; more: {@code MARK} up to 1000 pairs
 * {@code SETITEMS}, per batch; an exact dict whose size is a multiple of 1000 gets one more empty
 * batch, as {@code batch_dict_setitems_exact} does); each tensor as {@code GLOBAL torch._utils
 * _rebuild_tensor_v2} (memoised, later {@code BINGET}), {@code MARK}, the persistent id
 * {@code MARK 'storage' GLOBAL torch <Type>Storage key 'cpu' numel TUPLE BINPUT BINPERSID}, the
 * storage offset, the size and stride tuples ({@code TUPLE1/2/3} or {@code MARK ... TUPLE},
 * memoised; {@code EMPTY_TUPLE} unmemoised for rank 0), {@code NEWFALSE}, an empty
 * {@code OrderedDict} for the backward hooks, {@code TUPLE BINPUT REDUCE BINPUT}; {@code STOP}.
 * Strings are {@code BINUNICODE} and memoised; the Python pickler memoises by identity, which for
 * these strings (literals, storage keys reused through {@code id_map}) is the same as by value.
 * Integers: {@code BININT1} below 256, {@code BININT2} below 65536, {@code BININT} for 32-bit
 * signed, {@code LONG1} beyond. Memo indices below 256 use {@code BINPUT/BINGET}, others the
 * {@code LONG_} forms.
 *
 * <p>The zip (caffe2/serialize/inline_container.cc {@code PyTorchStreamWriter} over miniz 3.0.2
 * {@code mz_zip_writer_add_mem_ex_v2} with {@code MZ_ZIP_FLAG_WRITE_ZIP64}): records in the order
 * {@code data.pkl}, {@code .format_version} ("1"), {@code .storage_alignment} ("64"),
 * {@code byteorder} ("little"), {@code data/0..n}, then at the end {@code version} ("3\n") and
 * {@code .data/serialization_id}, all under the folder named by the file's base name. Each local
 * header: version needed 0, flags 0x0808 (data descriptor, UTF-8; 0x0800 for an empty record),
 * method 0 (stored), DOS time and date 0, CRC and sizes 0, then the name and one extra field
 * {@code "FB"} whose length pads the data start to a multiple of 64 with {@code 'Z'}
 * ({@code getPadding}); the data; a 16-byte data descriptor (signature, CRC-32, sizes). The
 * central directory repeats name, CRC and sizes (version made by and needed 0, no extra fields
 * below 4 GiB), then a zip64 end record (made by 0x031E, needed 45), its locator and the classic
 * end record. Checked against files written by torch 2.13's torch.save (test resources): every
 * byte is the same except the serialization id's digits (PyTorch hashes the record names with
 * {@code std::hash}) and that record's CRC.
 */
public final class TorchSaveWriter {

    /** One contiguous tensor with its own storage: {@code data} holds exactly its little-endian bytes. */
    public record Tensor(String name, String dtype, long[] shape, MemorySegment data) {

        /** {@code dtype} by the name of an enum constant that is a safetensors dtype (the engine's {@code DType}). */
        public Tensor(String name, Enum<?> dtype, long[] shape, MemorySegment data) {
            this(name, dtype.name(), shape, data);
        }
    }

    /**
     * One tensor as the pickle describes it, for fixtures that need what a plain state dict
     * never has (shared storages, offsets, strides).
     *
     * @param storageKey the storage record {@code data/<storageKey>}
     * @param storageNumel the element count written in the persistent id
     * @param offset storage offset in elements
     */
    public record Record(String name, String storageType, String storageKey, long storageNumel, long offset, long[] shape,
            long[] stride) {
    }

    private static final Map<String, String> STORAGE_TYPES = Map.of("F32", "FloatStorage", "F16", "HalfStorage",
            "BF16", "BFloat16Storage", "F64", "DoubleStorage", "I64", "LongStorage", "I32", "IntStorage",
            "I16", "ShortStorage", "I8", "CharStorage", "U8", "ByteStorage", "BOOL", "BoolStorage");

    private static final int ALIGNMENT = 64;

    private TorchSaveWriter() {
    }

    /** {@code torch.save({name: tensor, ...}, file)} of a plain dict, each tensor with its own storage. */
    public static void write(Path file, List<Tensor> tensors) throws IOException {
        write(file, tensors, false);
    }

    /**
     * As {@link #write(Path, List)}; with {@code stateDict} the object is an {@code OrderedDict}
     * carrying a {@code _metadata} attribute, as {@code torch.save(model.state_dict(), file)} writes.
     */
    public static void write(Path file, List<Tensor> tensors, boolean stateDict) throws IOException {
        List<Record> records = new ArrayList<>();
        Map<String, MemorySegment> storages = new LinkedHashMap<>();
        for (Tensor t : tensors) {
            String key = Integer.toString(storages.size());
            long numel = t.data().byteSize() / SafetensorsWriter.elementSize(t.dtype());
            records.add(new Record(t.name(), storageType(t.dtype()), key, numel, 0, t.shape(), contiguousStride(t.shape())));
            storages.put(key, t.data());
        }
        writeArchive(file, pickle(records, stateDict), storages);
    }

    public static String storageType(String dtype) {
        String s = STORAGE_TYPES.get(dtype);
        if (s == null) {
            throw new IllegalArgumentException("torch has no legacy storage class for " + dtype);
        }
        return s;
    }

    public static long[] contiguousStride(long[] shape) {
        long[] stride = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            stride[i] = s;
            s *= shape[i];
        }
        return stride;
    }

    /** The {@code data.pkl} bytes torch.save writes for these tensors. */
    public static byte[] pickle(List<Record> records, boolean stateDict) {
        Pickler p = new Pickler();
        p.op(0x80).op(2);
        if (stateDict) {
            p.global("collections", "OrderedDict");
            p.op(')').op('R').put(new Object());
        } else {
            p.op('}').put(new Object());
        }
        int n = records.size();
        if (stateDict) {
            // batch_dict_setitems over the items iterator: a lone remaining item is a SETITEM.
            int i = 0;
            int batch = 1000;
            while (batch == 1000 && i < n) {
                if (n - i == 1) {
                    p.item(records.get(i++));
                    p.op('s');
                    break;
                }
                p.op('(');
                for (batch = 0; batch < 1000 && i < n; batch++) {
                    p.item(records.get(i++));
                }
                p.op('u');
            }
        } else if (n == 1) {
            // batch_dict_setitems_exact: one item is a SETITEM ...
            p.item(records.getFirst());
            p.op('s');
        } else if (n > 1) {
            // ... more go in batches of 1000, repeated while the last batch was full.
            int i = 0;
            int batch;
            do {
                p.op('(');
                for (batch = 0; batch < 1000 && i < n; batch++) {
                    p.item(records.get(i++));
                }
                p.op('u');
            } while (batch == 1000);
        }
        if (stateDict) {
            // state: {'_metadata': OrderedDict([('', {'version': 1})])}, then BUILD.
            p.op('}').put(new Object());
            p.string("_metadata");
            p.global("collections", "OrderedDict");
            p.op(')').op('R').put(new Object());
            p.string("");
            p.op('}').put(new Object());
            p.string("version");
            p.integer(1);
            p.op('s');
            p.op('s');
            p.op('s');
            p.op('b');
        }
        p.op('.');
        return p.out.toByteArray();
    }

    /** The zip container around {@code pickle} and the storages, as PyTorchStreamWriter writes it. */
    public static void writeArchive(Path file, byte[] pickle, Map<String, MemorySegment> storages) throws IOException {
        String base = file.getFileName().toString();
        int dot = base.lastIndexOf('.');
        String folder = (dot > 0 ? base.substring(0, dot) : base) + "/";
        Map<String, MemorySegment> records = new LinkedHashMap<>();
        records.put("data.pkl", MemorySegment.ofArray(pickle));
        records.put(".format_version", ascii("1"));
        records.put(".storage_alignment", ascii(Integer.toString(ALIGNMENT)));
        records.put("byteorder", ascii("little"));
        for (Map.Entry<String, MemorySegment> e : storages.entrySet()) {
            records.put("data/" + e.getKey(), e.getValue());
        }
        records.put("version", ascii("3\n"));
        Map<String, MemorySegment> withFolder = new LinkedHashMap<>();
        for (Map.Entry<String, MemorySegment> e : records.entrySet()) {
            withFolder.put(folder + e.getKey(), e.getValue());
        }
        writeZip(file, withFolder, folder + ".data/serialization_id");
    }

    /** Writes {@code records} (full names) plus the serialization id record, atomically. */
    public static void writeZip(Path file, Map<String, MemorySegment> records, String serializationIdName) throws IOException {
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        try (FileChannel ch = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ZipOut z = new ZipOut(ch);
            long combinedCrc = 0;
            long nameHash = 0;
            for (Map.Entry<String, MemorySegment> e : records.entrySet()) {
                int crc = z.record(e.getKey(), e.getValue());
                combinedCrc = hashCombine(combinedCrc, Integer.toUnsignedLong(crc));
                nameHash = hashCombine(nameHash, e.getKey().hashCode() & 0xFFFFFFFFL);
            }
            String id = String.format("%020d%020d", nameHash & Long.MAX_VALUE, combinedCrc & Long.MAX_VALUE);
            z.record(serializationIdName, ascii(id));
            z.finish();
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(partial);
            throw e;
        }
        Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** c10::hash_combine (boost's). */
    private static long hashCombine(long seed, long value) {
        return seed ^ (value + 0x9e3779b9L + (seed << 6) + (seed >>> 2));
    }

    private static MemorySegment ascii(String s) {
        return MemorySegment.ofArray(s.getBytes(StandardCharsets.US_ASCII));
    }

    /** A protocol-2 pickler for exactly the objects above, with CPython's memo numbering. */
    private static final class Pickler {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final Map<Object, Integer> memo = new HashMap<>();

        Pickler op(int b) {
            out.write(b);
            return this;
        }

        void le(long v, int n) {
            for (int i = 0; i < n; i++) {
                out.write((int) (v >>> (8 * i)));
            }
        }

        /** Memoises the object just written (BINPUT / LONG_BINPUT). */
        Pickler put(Object key) {
            int i = memo.size();
            memo.put(key, i);
            if (i < 256) {
                op('q').op(i);
            } else {
                op('r');
                le(i, 4);
            }
            return this;
        }

        boolean get(Object key) {
            Integer i = memo.get(key);
            if (i == null) {
                return false;
            }
            if (i < 256) {
                op('h').op(i);
            } else {
                op('j');
                le(i, 4);
            }
            return true;
        }

        void global(String module, String name) {
            Object key = List.of("global", module, name);
            if (get(key)) {
                return;
            }
            op('c');
            out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
            put(key);
        }

        void string(String s) {
            Object key = List.of("str", s);
            if (get(key)) {
                return;
            }
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            op('X');
            le(b.length, 4);
            out.writeBytes(b);
            put(key);
        }

        void integer(long v) {
            if (v >= 0 && v <= 0xFF) {
                op('K').op((int) v);
            } else if (v >= 0 && v <= 0xFFFF) {
                op('M');
                le(v, 2);
            } else if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
                op('J');
                le(v, 4);
            } else {
                // LONG1: minimal little-endian two's complement (pickle.encode_long).
                byte[] be = java.math.BigInteger.valueOf(v).toByteArray();
                op(0x8a).op(be.length);
                for (int i = be.length - 1; i >= 0; i--) {
                    out.write(be[i]);
                }
            }
        }

        void tuple(long[] v) {
            if (v.length == 0) {
                op(')');
                return;
            }
            if (v.length > 3) {
                op('(');
            }
            for (long x : v) {
                integer(x);
            }
            op(v.length == 1 ? 0x85 : v.length == 2 ? 0x86 : v.length == 3 ? 0x87 : 't');
            put(new Object());
        }

        void item(Record r) {
            string(r.name());
            tensor(r);
        }

        void tensor(Record r) {
            global("torch._utils", "_rebuild_tensor_v2");
            op('(');
            // persistent id ('storage', torch.<Type>Storage, key, 'cpu', numel)
            op('(');
            string("storage");
            global("torch", r.storageType());
            string(r.storageKey());
            string("cpu");
            integer(r.storageNumel());
            op('t');
            put(new Object());
            op('Q');
            integer(r.offset());
            tuple(r.shape());
            tuple(r.stride());
            op(0x89); // requires_grad False
            global("collections", "OrderedDict");
            op(')').op('R').put(new Object());
            op('t');
            put(new Object());
            op('R');
            put(new Object());
        }
    }

    /** Sequential zip writer with PyTorch's 64-byte data alignment. */
    private static final class ZipOut {
        private final FileChannel ch;
        private long pos;
        private final ByteArrayOutputStream central = new ByteArrayOutputStream();
        private int count;

        ZipOut(FileChannel ch) {
            this.ch = ch;
        }

        int record(String name, MemorySegment data) throws IOException {
            byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
            long size = data.byteSize();
            if (size >= 0xFFFFFFFFL || pos >= 0xFFFFFFFFL) {
                throw new IOException("fixture writer: records and archives over 4 GiB are not written");
            }
            long start = pos + 30 + nameBytes.length + 4;
            int padding = (int) ((ALIGNMENT - start % ALIGNMENT) % ALIGNMENT);
            CRC32 crc32 = new CRC32();
            crc32.update(buffer(data));
            int crc = (int) crc32.getValue();
            int flags = size > 0 ? 0x0808 : 0x0800;
            long local = pos;
            ByteBuffer h = le(30 + nameBytes.length + 4 + padding);
            h.putInt(0x04034b50).putShort((short) 0).putShort((short) flags).putShort((short) 0)
                    .putShort((short) 0).putShort((short) 0).putInt(0).putInt(0).putInt(0)
                    .putShort((short) nameBytes.length).putShort((short) (4 + padding)).put(nameBytes)
                    .put((byte) 'F').put((byte) 'B').putShort((short) padding);
            for (int i = 0; i < padding; i++) {
                h.put((byte) 'Z');
            }
            write(h.flip());
            write(buffer(data));
            if (size > 0) {
                write(le(16).putInt(0x08074b50).putInt(crc).putInt((int) size).putInt((int) size).flip());
            }
            ByteBuffer c = le(46 + nameBytes.length);
            c.putInt(0x02014b50).putShort((short) 0).putShort((short) 0).putShort((short) flags).putShort((short) 0)
                    .putShort((short) 0).putShort((short) 0).putInt(crc).putInt((int) size).putInt((int) size)
                    .putShort((short) nameBytes.length).putShort((short) 0).putShort((short) 0).putShort((short) 0)
                    .putShort((short) 0).putInt(0).putInt((int) local).put(nameBytes);
            central.writeBytes(c.array());
            count++;
            return crc;
        }

        void finish() throws IOException {
            long cdOffset = pos;
            byte[] cd = central.toByteArray();
            write(ByteBuffer.wrap(cd));
            long zip64End = pos;
            write(le(56).putInt(0x06064b50).putLong(44).putShort((short) 0x031E).putShort((short) 0x002D).putInt(0).putInt(0)
                    .putLong(count).putLong(count).putLong(cd.length).putLong(cdOffset).flip());
            write(le(20).putInt(0x07064b50).putInt(0).putLong(zip64End).putInt(1).flip());
            write(le(22).putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) count)
                    .putShort((short) count).putInt(cd.length).putInt((int) cdOffset).putShort((short) 0).flip());
        }

        /** Heap segments over int[] or float[] have no ByteBuffer view; they are small fixtures, so copy. */
        private static ByteBuffer buffer(MemorySegment data) {
            if (data.isNative() || data.heapBase().map(b -> b instanceof byte[]).orElse(false)) {
                return data.asByteBuffer();
            }
            return ByteBuffer.wrap(data.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        }

        private static ByteBuffer le(int n) {
            return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        }

        private void write(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                pos += ch.write(b, pos);
            }
        }
    }
}
