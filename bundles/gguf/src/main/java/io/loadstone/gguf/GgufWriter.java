package io.loadstone.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Writes GGUF version 3 files: metadata of every value type, then tensors, each aligned.
 *
 * <p>Tensor data is streamed: each tensor is added with a {@link TensorData} callback that is
 * called once, in table order, while the file is written and must write exactly the tensor's
 * byte size. Nothing but the header is held in memory, so files of many gigabytes can be
 * written. The layout is the one llama.cpp and gguf-py write (tensors back to back in table
 * order, each padded with zeros to the alignment), so files written here pass
 * {@link GgufFile#read}.
 *
 * <pre>{@code
 * new GgufWriter()
 *     .putString("general.architecture", "llama")
 *     .putUInt32("llama.context_length", 2048)
 *     .addTensor("token_embd.weight", GgmlType.F32, new long[] {64, 512}, out -> fill(out))
 *     .write(path);
 * }</pre>
 *
 * <p>Argument errors (duplicate keys or tensor names, values out of range, shapes ggml cannot
 * hold) throw {@link IllegalArgumentException} when they are added. Not thread-safe.
 */
public final class GgufWriter {

    /** Fills one tensor's data. */
    @FunctionalInterface
    public interface TensorData {
        /**
         * Writes exactly the tensor's {@link GgufTensor#byteSize()} bytes to {@code out}, in
         * as many writes as convenient. Writing more fails at once; writing fewer fails after
         * the call returns.
         */
        void write(WritableByteChannel out) throws IOException;
    }

    private record Value(GgufValueType type, Object value) {}

    private record Pending(String name, long[] dims, GgmlType type, long byteSize, TensorData data) {}

    private static final int BUFFER_BYTES = 1 << 20;

    private final Map<String, Value> metadata = new LinkedHashMap<>();
    private final List<Pending> tensors = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private int alignment = GgufParser.DEFAULT_ALIGNMENT;

    /**
     * Sets {@code general.alignment} (written as UINT32 at this point of the metadata). Without
     * it the GGUF default of 32 applies.
     *
     * @throws IllegalArgumentException unless a power of two between 1 and 2<sup>30</sup>
     */
    public GgufWriter alignment(int alignment) {
        return put(GgufParser.ALIGNMENT_KEY, GgufValueType.UINT32, (long) alignment);
    }

    /**
     * Adds one metadata entry; {@code value} is converted as {@link GgufValueType} describes
     * (so {@code put(k, file.valueType(k).get(), file.metadata().get(k))} copies an entry).
     *
     * @throws IllegalArgumentException if the key is empty, too long, contains NUL or is already
     *         there, or the value does not fit the type
     */
    public GgufWriter put(String key, GgufValueType type, Object value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(type, "type");
        if (key.isEmpty() || key.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("metadata keys must be non-empty and free of NUL: '" + key + "'");
        }
        if (utf8(key).length > GgufParser.MAX_KEY_BYTES) {
            throw new IllegalArgumentException("metadata key longer than 65,535 bytes");
        }
        if (metadata.containsKey(key)) {
            throw new IllegalArgumentException("duplicate metadata key '" + key + "'");
        }
        Object v = type.canonical(value);
        if (key.equals(GgufParser.ALIGNMENT_KEY)) {
            if (type != GgufValueType.UINT32) {
                throw new IllegalArgumentException(key + " must be UINT32");
            }
            long a = (Long) v;
            if (a == 0 || (a & (a - 1)) != 0 || a > GgufParser.MAX_ALIGNMENT) {
                throw new IllegalArgumentException(key + " must be a power of two up to 2^30: " + a);
            }
            alignment = (int) a;
        }
        checkStrings(type, v);
        metadata.put(key, new Value(type, v));
        return this;
    }

    public GgufWriter putUInt8(String key, int value) {
        return put(key, GgufValueType.UINT8, value);
    }

    public GgufWriter putInt8(String key, byte value) {
        return put(key, GgufValueType.INT8, value);
    }

    public GgufWriter putUInt16(String key, int value) {
        return put(key, GgufValueType.UINT16, value);
    }

    public GgufWriter putInt16(String key, short value) {
        return put(key, GgufValueType.INT16, value);
    }

    public GgufWriter putUInt32(String key, long value) {
        return put(key, GgufValueType.UINT32, value);
    }

    public GgufWriter putInt32(String key, int value) {
        return put(key, GgufValueType.INT32, value);
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, GgufValueType.FLOAT32, value);
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, GgufValueType.BOOL, value);
    }

    public GgufWriter putString(String key, String value) {
        return put(key, GgufValueType.STRING, value);
    }

    /** A UINT64; values of 2<sup>63</sup> and more are passed as the negative long with the same bits. */
    public GgufWriter putUInt64(String key, long value) {
        return put(key, GgufValueType.UINT64, value);
    }

    public GgufWriter putInt64(String key, long value) {
        return put(key, GgufValueType.INT64, value);
    }

    public GgufWriter putFloat64(String key, double value) {
        return put(key, GgufValueType.FLOAT64, value);
    }

    public GgufWriter putArray(String key, GgufArray value) {
        return put(key, GgufValueType.ARRAY, value);
    }

    /**
     * Adds a tensor whose data {@code data} writes while the file is written.
     *
     * @param dims shape, fastest-varying dimension first (ggml's {@code ne}); 1 to 4 dims, each
     *             at least 1, {@code dims[0]} a multiple of the type's block size
     * @throws IllegalArgumentException for a duplicate or invalid name or an invalid shape
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] dims, TensorData data) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(data, "data");
        long[] shape = dims.clone();
        if (name.indexOf('\0') >= 0 || utf8(name).length > GgufParser.MAX_TENSOR_NAME_BYTES) {
            throw new IllegalArgumentException("tensor names must be at most 63 UTF-8 bytes without NUL: '" + name + "'");
        }
        if (!names.add(name)) {
            throw new IllegalArgumentException("duplicate tensor name '" + name + "'");
        }
        try {
            if (shape.length < 1 || shape.length > GgufParser.MAX_DIMS) {
                throw new IllegalArgumentException("tensors have 1 to 4 dimensions, not " + shape.length);
            }
            long elements = 1;
            for (long d : shape) {
                if (d < 1) {
                    throw new IllegalArgumentException("every dimension must be at least 1: " + d);
                }
                elements = Math.multiplyExact(elements, d);
            }
            if (shape[0] % type.blockSize() != 0) {
                throw new IllegalArgumentException("rows of " + shape[0] + " elements are not a multiple of "
                        + type + "'s block size " + type.blockSize());
            }
            tensors.add(new Pending(name, shape, type, type.byteSize(elements), data));
        } catch (IllegalArgumentException | ArithmeticException e) {
            names.remove(name);
            throw new IllegalArgumentException("tensor '" + name + "': " + e.getMessage(), e);
        }
        return this;
    }

    /** Adds a tensor whose data is {@code data} (which must be exactly the tensor's byte size). */
    public GgufWriter addTensor(String name, GgmlType type, long[] dims, byte[] data) {
        byte[] copy = data.clone();
        addTensor(name, type, dims, out -> {
            ByteBuffer b = ByteBuffer.wrap(copy);
            while (b.hasRemaining()) {
                out.write(b);
            }
        });
        long size = tensors.getLast().byteSize();
        if (size != copy.length) {
            tensors.removeLast();
            names.remove(name);
            throw new IllegalArgumentException("tensor '" + name + "' takes " + size + " bytes, but "
                    + copy.length + " were given");
        }
        return this;
    }

    /** The tensor table as it will be written: offsets relative to the data section. */
    public List<GgufTensor> tensors() {
        List<GgufTensor> out = new ArrayList<>(tensors.size());
        long offset = 0;
        for (Pending p : tensors) {
            out.add(new GgufTensor(p.name, p.dims, p.type, offset, p.byteSize));
            offset += GgufParser.alignUp(p.byteSize, alignment);
        }
        return out;
    }

    /**
     * Writes the file. It is written next to {@code file} under a temporary name and moved into
     * place when complete, so a failed or interrupted write never leaves a file that looks whole.
     *
     * @throws IOException if writing fails or a {@link TensorData} writes the wrong number of bytes
     */
    public void write(Path file) throws IOException {
        Path target = file.toAbsolutePath();
        Path tmp = target.resolveSibling(target.getFileName() + ".part");
        boolean done = false;
        try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            writeTo(channel);
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
        try {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    private void writeTo(FileChannel channel) throws IOException {
        Output out = new Output(channel);
        out.u32(0x46554747); // "GGUF"
        out.u32(3);
        out.u64(tensors.size());
        out.u64(metadata.size());
        for (Map.Entry<String, Value> e : metadata.entrySet()) {
            out.string(e.getKey());
            out.u32(e.getValue().type().id());
            out.value(e.getValue().type(), e.getValue().value());
        }
        List<GgufTensor> table = tensors();
        for (GgufTensor t : table) {
            out.string(t.name());
            out.u32(t.rank());
            for (int i = 0; i < t.rank(); i++) {
                out.u64(t.dim(i));
            }
            out.u32(t.type().id());
            out.u64(t.offset());
        }
        if (!tensors.isEmpty()) {
            out.padTo(alignment);
        }
        for (int i = 0; i < tensors.size(); i++) {
            Pending p = tensors.get(i);
            out.flush();
            Bounded sink = new Bounded(channel, p.name, p.byteSize);
            p.data.write(sink);
            if (sink.written != p.byteSize) {
                throw new IOException("tensor '" + p.name + "': its TensorData wrote " + sink.written
                        + " bytes, but the tensor takes " + p.byteSize);
            }
            out.position += p.byteSize;
            out.padTo(alignment);
        }
        out.flush();
    }

    private static void checkStrings(GgufValueType type, Object v) {
        // a String with unpaired surrogates has no UTF-8 form; refuse it now, not while writing
        if (type == GgufValueType.STRING) {
            utf8((String) v);
        } else if (type == GgufValueType.ARRAY) {
            GgufArray a = (GgufArray) v;
            if (a.elementType() == GgufValueType.STRING || a.elementType() == GgufValueType.ARRAY) {
                for (Object o : a) {
                    checkStrings(a.elementType(), o);
                }
            }
        }
    }

    private static byte[] utf8(String s) {
        try {
            ByteBuffer b = StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .encode(CharBuffer.wrap(s));
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("string is not valid Unicode (unpaired surrogate): "
                    + s.substring(0, Math.min(s.length(), 40)), e);
        }
    }

    /** Buffered little-endian output that tracks the file position. */
    private static final class Output {
        private final FileChannel channel;
        private final ByteBuffer buf = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        long position; // file offset of the next byte, buffered or not

        Output(FileChannel channel) {
            this.channel = channel;
        }

        private void room(int n) throws IOException {
            if (buf.remaining() < n) {
                flush();
            }
        }

        void flush() throws IOException {
            buf.flip();
            while (buf.hasRemaining()) {
                channel.write(buf);
            }
            buf.clear();
        }

        void u8(int v) throws IOException {
            room(1);
            buf.put((byte) v);
            position++;
        }

        void u16(int v) throws IOException {
            room(2);
            buf.putShort((short) v);
            position += 2;
        }

        void u32(int v) throws IOException {
            room(4);
            buf.putInt(v);
            position += 4;
        }

        void u64(long v) throws IOException {
            room(8);
            buf.putLong(v);
            position += 8;
        }

        void bytes(byte[] b) throws IOException {
            if (b.length > buf.capacity()) {
                flush();
                ByteBuffer w = ByteBuffer.wrap(b);
                while (w.hasRemaining()) {
                    channel.write(w);
                }
            } else {
                room(b.length);
                buf.put(b);
            }
            position += b.length;
        }

        void string(String s) throws IOException {
            byte[] b = utf8(s);
            u64(b.length);
            bytes(b);
        }

        void padTo(int alignment) throws IOException {
            long pad = GgufParser.alignUp(position, alignment) - position;
            while (pad > 0) {
                room(1);
                int n = (int) Math.min(pad, buf.remaining());
                buf.put(new byte[n]); // zero bytes, as the spec asks
                position += n;
                pad -= n;
            }
        }

        void value(GgufValueType type, Object v) throws IOException {
            switch (type) {
                case UINT8, INT8 -> u8(((Number) v).intValue());
                case UINT16, INT16 -> u16(((Number) v).intValue());
                case UINT32, INT32 -> u32((int) ((Number) v).longValue());
                case FLOAT32 -> u32(Float.floatToRawIntBits((Float) v));
                case BOOL -> u8((Boolean) v ? 1 : 0);
                case STRING -> string((String) v);
                case UINT64, INT64 -> u64((Long) v);
                case FLOAT64 -> u64(Double.doubleToRawLongBits((Double) v));
                case ARRAY -> {
                    GgufArray a = (GgufArray) v;
                    u32(a.elementType().id());
                    u64(a.size());
                    for (Object e : a) {
                        value(a.elementType(), e);
                    }
                }
            }
        }
    }

    /** Passes writes to the file and refuses any beyond the tensor's size. */
    private static final class Bounded implements WritableByteChannel {
        private final FileChannel channel;
        private final String name;
        private final long size;
        long written;

        Bounded(FileChannel channel, String name, long size) {
            this.channel = channel;
            this.name = name;
            this.size = size;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            if (src.remaining() > size - written) {
                throw new IOException("tensor '" + name + "' takes " + size + " bytes; its TensorData tried to write "
                        + (written + src.remaining()));
            }
            int n = 0;
            while (src.hasRemaining()) {
                n += channel.write(src);
            }
            written += n;
            return n;
        }

        @Override
        public boolean isOpen() {
            return channel.isOpen();
        }

        @Override
        public void close() {
            // the writer owns the file; a TensorData closing its sink must not close it
        }
    }
}
