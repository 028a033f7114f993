package io.loadstone.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads and checks the header region of one GGUF file (header, metadata, tensor table) through
 * a small buffer over a {@link FileChannel}. Tensor data is never read.
 *
 * <p>The rules are those of llama.cpp's {@code gguf.cpp} (b4916 and later) and the GGUF spec
 * ({@code docs/gguf.md}), plus a few stricter ones where llama.cpp would go on with a file that
 * cannot be right (see {@link GgufFile#read}). Every count read from the file is checked
 * against the bytes that are left before anything is allocated for it, so a corrupt or hostile
 * file cannot make the reader allocate more than the file's header region could hold.
 *
 * <p>One instance reads one file once; it is not thread-safe.
 */
final class GgufParser {

    /** Upper bound on header + metadata + tensor table. Real models need a few MiB (the largest
     *  tokenizers hold ~300K strings); the bound keeps a hostile file from filling the heap. */
    static final long MAX_HEADER_BYTES = 256L << 20;
    /** Upper bound on the Java heap the metadata may take, estimated before each allocation.
     *  Needed besides MAX_HEADER_BYTES because millions of tiny strings cost far more heap than
     *  file bytes (an empty string is 8 bytes in the file, ~50 on the heap). Real models: &lt;100 MiB. */
    static final long MAX_METADATA_HEAP = 512L << 20;
    private static final int STRING_HEAP_BYTES = 56; // String + byte[] headers, reference
    /** Arrays of arrays are legal GGUF; llama.cpp refuses them, real files don't use them. */
    static final int MAX_ARRAY_NESTING = 8;
    /** ggml keeps names in {@code char name[GGML_MAX_NAME=64]} with a terminating NUL. */
    static final int MAX_TENSOR_NAME_BYTES = 63;
    /** GGML_MAX_DIMS. */
    static final int MAX_DIMS = 4;
    /** The spec's limit on key length. */
    static final int MAX_KEY_BYTES = 65_535;
    /** Alignments are returned as int; real files use 32 (the default) or a few KiB at most. */
    static final long MAX_ALIGNMENT = 1L << 30;
    static final String ALIGNMENT_KEY = "general.alignment";
    static final int DEFAULT_ALIGNMENT = 32;

    static final String FIX_TRUNCATED = "Download the file again; compare its sha256 with the source.";
    static final String FIX_CORRUPT = "The file is damaged or was written by a faulty tool: download it again "
            + "(compare its sha256 with the source), or re-create it with a current llama.cpp convert script.";
    static final String FIX_RECONVERT = "Re-create the file with a current llama.cpp convert script "
            + "(convert_hf_to_gguf.py) from the original model.";

    // smallest possible encodings, used to refuse absurd counts before allocating
    private static final int MIN_KV_BYTES = 8 + 1 + 4 + 1;              // key length, 1-byte key, type, 1-byte value
    private static final int MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8; // empty name, n_dims, 1 dim, type, offset
    private static final int HEADER_BYTES = 24;
    private static final int BUFFER_BYTES = 64 << 10;

    private final Path file;
    private final FileChannel channel;
    private final long fileSize;
    private final long limit; // no read of the header region may go past this offset
    private final long maxHeaderBytes;
    private final long maxHeap;
    private long heap; // estimated heap taken by the metadata so far
    private final ByteBuffer buf = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private long bufStart; // file offset of buf index 0
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    private String context = "the header"; // what is being read, for truncation messages

    GgufParser(Path file, FileChannel channel, long fileSize) {
        this(file, channel, fileSize, MAX_HEADER_BYTES, MAX_METADATA_HEAP);
    }

    /** With other limits, so that tests can reach them with small files. */
    GgufParser(Path file, FileChannel channel, long fileSize, long maxHeaderBytes, long maxHeap) {
        this.file = file;
        this.channel = channel;
        this.fileSize = fileSize;
        this.maxHeaderBytes = maxHeaderBytes;
        this.maxHeap = maxHeap;
        this.limit = Math.min(fileSize, HEADER_BYTES + maxHeaderBytes);
        buf.limit(0);
    }

    GgufFile parse() throws GgufException {
        if (fileSize < 4) {
            throw fail(0, "the file has only " + fileSize + " bytes; a GGUF file starts with a "
                    + HEADER_BYTES + "-byte header (truncated download?)", FIX_TRUNCATED);
        }
        checkMagic(bytes(4));
        int version = checkVersion(u32());
        long nTensors = u64();
        long nKv = u64();

        long room = limit - pos();
        if (nKv < 0 || nKv > room / MIN_KV_BYTES) {
            throw fail(16, "the header claims " + unsigned(nKv) + " metadata entries, but the "
                    + group(room) + " bytes after the header can hold at most " + group(room / MIN_KV_BYTES)
                    + " (truncated or corrupt file?)", FIX_CORRUPT);
        }
        long roomForTensors = room - nKv * MIN_KV_BYTES;
        if (nTensors < 0 || nTensors > roomForTensors / MIN_TENSOR_INFO_BYTES) {
            throw fail(8, "the header claims " + unsigned(nTensors) + " tensors, but the " + group(room)
                    + " bytes after the header can hold at most " + group(roomForTensors / MIN_TENSOR_INFO_BYTES)
                    + " tensor infos besides " + group(nKv) + " metadata entries (truncated or corrupt file?)",
                    FIX_CORRUPT);
        }

        // ---- metadata
        Map<String, Object> metadata = new LinkedHashMap<>();
        Map<String, GgufValueType> types = new HashMap<>();
        long alignmentAt = -1;
        for (long i = 0; i < nKv; i++) {
            context = "metadata key #" + i;
            long keyAt = pos();
            String key = string(context, -1);
            checkKey(key, i, keyAt, metadata);
            String who = "metadata key #" + i + " ('" + key + "')";
            context = who;
            long typeAt = pos();
            int typeId = u32();
            GgufValueType type = GgufValueType.byId(typeId).orElseThrow(() -> fail(typeAt,
                    who + " has unknown value type " + Integer.toUnsignedString(typeId)
                            + " (GGUF defines 0 to 12)", FIX_CORRUPT));
            String what = "the value of " + who;
            context = what;
            metadata.put(key, value(type, what, 0));
            types.put(key, type);
            if (key.equals(ALIGNMENT_KEY)) {
                alignmentAt = keyAt;
            }
        }
        int alignment = alignment(metadata, types, alignmentAt);

        // ---- tensor table
        List<GgufTensor> tensors = new ArrayList<>((int) Math.min(nTensors, 4096));
        long[] infoAt = new long[(int) Math.min(nTensors, 4096)];
        Set<String> names = new HashSet<>();
        for (int i = 0; i < nTensors; i++) {
            if (i == infoAt.length) {
                infoAt = Arrays.copyOf(infoAt, infoAt.length * 2);
            }
            infoAt[i] = pos();
            tensors.add(tensorInfo(i, alignment, names));
        }
        long tableEnd = pos();
        // llama.cpp pads to the alignment only when there are tensors
        long dataOffset = nTensors > 0 ? alignUp(tableEnd, alignment) : tableEnd;
        checkDataLayout(tensors, infoAt, dataOffset, alignment);

        return new GgufFile(file, version, fileSize, Collections.unmodifiableMap(metadata),
                Collections.unmodifiableMap(types), List.copyOf(tensors), dataOffset, alignment);
    }

    // ------------------------------------------------------------------ header

    private void checkMagic(byte[] m) throws GgufException {
        if (m[0] == 'G' && m[1] == 'G' && m[2] == 'U' && m[3] == 'F') {
            return;
        }
        String seen = printable(m);
        String hint;
        String fix = "Use a .gguf model file (for example one of the GGUF quantizations on Hugging Face), "
                + "or convert the model with llama.cpp's convert_hf_to_gguf.py.";
        if (seen.equals("FUGG")) {
            hint = "it looks like a big-endian GGUF file";
            fix = "Convert it to little-endian with gguf-py's gguf_convert_endian.py, or use the little-endian file.";
        } else if (seen.equals("lmgg") || seen.equals("fmgg") || seen.equals("tjgg") || seen.equals("algg")) {
            hint = "it is an old GGML/GGMF/GGJT file from before GGUF (2023), which llama.cpp no longer reads";
            fix = FIX_RECONVERT;
        } else if (m[0] == '<') {
            hint = "it looks like an HTML page (a login or error page saved instead of the model?)";
            fix = "Download the file again from its direct download link (for gated Hugging Face models, log in "
                    + "and accept the licence first).";
        } else if (m[0] == 'P' && m[1] == 'K') {
            hint = "it is a ZIP archive (a PyTorch .bin/.pt checkpoint?)";
        } else if (looksLikeSafetensors()) {
            hint = "it is a safetensors file";
            fix = "Load it with a Transformers-style loader, or convert it with llama.cpp's convert_hf_to_gguf.py.";
        } else {
            hint = "this is not a GGUF file";
        }
        throw fail(0, "the file starts with '" + seen + "' instead of 'GGUF': " + hint, fix);
    }

    private boolean looksLikeSafetensors() {
        // 8-byte little-endian JSON length, then '{'
        try {
            ByteBuffer b = ByteBuffer.allocate(1);
            return fileSize > 9 && channel.read(b, 8) == 1 && b.get(0) == '{';
        } catch (IOException e) {
            return false; // only a hint for the message
        }
    }

    private int checkVersion(int v) throws GgufException {
        if (v == 2 || v == 3) {
            return v; // v2 switched counts and lengths to u64; v3 only added big-endian files
        }
        if (v == 1) {
            throw fail(4, "GGUF version 1 is too old: it used 32-bit counts and llama.cpp no longer reads it",
                    FIX_RECONVERT);
        }
        int swapped = Integer.reverseBytes(v);
        if ((v & 0xFFFF) == 0 && swapped >= 1 && swapped <= 3) {
            throw fail(4, "this is a big-endian GGUF file (version " + swapped
                    + " with its bytes swapped); Loadstone and llama.cpp on this machine read little-endian files only",
                    "Convert it with llama.cpp's gguf-py: python gguf_convert_endian.py <file> little; "
                            + "or download the little-endian file.");
        }
        if (v == 0) {
            throw fail(4, "GGUF version 0 does not exist", FIX_CORRUPT);
        }
        throw fail(4, "GGUF version " + Integer.toUnsignedString(v)
                + " is not supported; this reader knows versions 2 and 3",
                "Use a file written for GGUF version 3 (current llama.cpp convert scripts write it), "
                        + "or update Loadstone if a newer GGUF version has been released.");
    }

    // ------------------------------------------------------------------ metadata

    private void checkKey(String key, long i, long at, Map<String, Object> seen) throws GgufException {
        if (key.isEmpty()) {
            throw fail(at, "metadata key #" + i + " is empty", FIX_CORRUPT);
        }
        if (key.indexOf('\0') >= 0) {
            // C code compares keys with strcmp: "a\0b" and "a" would be the same key there
            throw fail(at, "metadata key #" + i + " ('" + key.replace('\0', '?') + "') contains a NUL byte",
                    FIX_CORRUPT);
        }
        if (utf8Length(key) > MAX_KEY_BYTES) {
            throw fail(at, "metadata key #" + i + " is " + group(utf8Length(key))
                    + " bytes long; GGUF keys are at most 65,535 bytes", FIX_CORRUPT);
        }
        if (seen.containsKey(key)) {
            int first = new ArrayList<>(seen.keySet()).indexOf(key);
            throw fail(at, "metadata key #" + i + " ('" + key + "') appears twice (first as key #" + first + ")",
                    FIX_CORRUPT);
        }
    }

    private Object value(GgufValueType type, String what, int depth) throws GgufException {
        return switch (type) {
            case UINT8 -> (short) u8();
            case INT8 -> (byte) u8();
            case UINT16 -> u16() & 0xFFFF;
            case INT16 -> u16();
            case UINT32 -> u32() & 0xFFFF_FFFFL;
            case INT32 -> u32();
            case FLOAT32 -> Float.intBitsToFloat(u32());
            case BOOL -> bool(what, -1);
            case STRING -> string(what, -1);
            case ARRAY -> array(what, depth);
            case UINT64, INT64 -> u64();
            case FLOAT64 -> Double.longBitsToDouble(u64());
        };
    }

    private GgufArray array(String what, int depth) throws GgufException {
        long typeAt = pos();
        int typeId = u32();
        GgufValueType type = GgufValueType.byId(typeId).orElseThrow(() -> fail(typeAt,
                what + " is an array of unknown value type " + Integer.toUnsignedString(typeId)
                        + " (GGUF defines 0 to 12)", FIX_CORRUPT));
        if (type == GgufValueType.ARRAY && depth + 1 >= MAX_ARRAY_NESTING) {
            throw fail(typeAt, what + " nests arrays more than " + MAX_ARRAY_NESTING + " levels deep", FIX_CORRUPT);
        }
        long countAt = pos();
        long n = u64();
        long room = limit - pos();
        if (n < 0 || n > room / type.minBytes()) {
            throw fail(countAt, what + " claims " + unsigned(n) + " " + type + " elements, but the "
                    + group(room) + " bytes left can hold at most " + group(room / type.minBytes())
                    + roomReason(), roomFix());
        }
        int size = (int) n; // n <= 256 MiB
        charge(countAt, 16 + n * switch (type) {
            case UINT8, INT8, BOOL -> 1;
            case UINT16, INT16 -> 2;
            case UINT32, INT32, FLOAT32 -> 4;
            default -> 8; // 64-bit values, references
        });
        Object store = GgufArray.newStore(type, size);
        switch (type) {
            case UINT8, INT8 -> bulk((byte[]) store);
            case BOOL -> {
                boolean[] a = (boolean[]) store;
                for (int k = 0; k < size; k++) {
                    a[k] = bool(what, k);
                }
            }
            case UINT16, INT16 -> {
                short[] a = (short[]) store;
                for (int k = 0; k < size; k++) {
                    a[k] = u16();
                }
            }
            case UINT32, INT32 -> {
                int[] a = (int[]) store;
                for (int k = 0; k < size; k++) {
                    a[k] = u32();
                }
            }
            case FLOAT32 -> {
                float[] a = (float[]) store;
                for (int k = 0; k < size; k++) {
                    a[k] = Float.intBitsToFloat(u32());
                }
            }
            case UINT64, INT64 -> {
                long[] a = (long[]) store;
                for (int k = 0; k < size; k++) {
                    a[k] = u64();
                }
            }
            case FLOAT64 -> {
                double[] a = (double[]) store;
                for (int k = 0; k < size; k++) {
                    a[k] = Double.longBitsToDouble(u64());
                }
            }
            case STRING -> {
                String[] a = (String[]) store;
                for (int k = 0; k < size; k++) {
                    a[k] = string(what, k);
                }
            }
            case ARRAY -> {
                GgufArray[] a = (GgufArray[]) store;
                for (int k = 0; k < size; k++) {
                    a[k] = array(what + ", element " + k, depth + 1);
                }
            }
        }
        return new GgufArray(type, store, size);
    }

    private int alignment(Map<String, Object> metadata, Map<String, GgufValueType> types, long at)
            throws GgufException {
        Object value = metadata.get(ALIGNMENT_KEY);
        if (value == null) {
            return DEFAULT_ALIGNMENT;
        }
        GgufValueType type = types.get(ALIGNMENT_KEY);
        if (type != GgufValueType.UINT32) {
            throw fail(at, ALIGNMENT_KEY + " has type " + type + "; GGUF requires UINT32 (llama.cpp refuses the file)",
                    FIX_CORRUPT);
        }
        long a = (Long) value;
        if (a == 0 || (a & (a - 1)) != 0) {
            throw fail(at, ALIGNMENT_KEY + " is " + a + "; it must be a power of two", FIX_CORRUPT);
        }
        if (a > MAX_ALIGNMENT) {
            throw fail(at, ALIGNMENT_KEY + " is " + group(a) + "; alignments above " + group(MAX_ALIGNMENT)
                    + " are refused", FIX_CORRUPT);
        }
        return (int) a;
    }

    // ------------------------------------------------------------------ tensors

    private GgufTensor tensorInfo(int i, int alignment, Set<String> names) throws GgufException {
        long at = pos();
        context = "the name of tensor #" + i;
        String name = string(context, -1);
        if (utf8Length(name) > MAX_TENSOR_NAME_BYTES) {
            throw fail(at, "the name of tensor #" + i + " ('" + name + "') is " + utf8Length(name)
                    + " bytes long; ggml allows at most " + MAX_TENSOR_NAME_BYTES, FIX_CORRUPT);
        }
        if (name.indexOf('\0') >= 0) {
            throw fail(at, "the name of tensor #" + i + " ('" + name.replace('\0', '?') + "') contains a NUL byte",
                    FIX_CORRUPT);
        }
        if (!names.add(name)) {
            throw fail(at, "tensor #" + i + " has the same name as an earlier tensor: '" + name + "'", FIX_CORRUPT);
        }
        String who = "tensor #" + i + " ('" + name + "')";
        context = who;

        long dimsAt = pos();
        int nDims = u32();
        if (nDims < 1 || nDims > MAX_DIMS) {
            throw fail(dimsAt, who + " has " + Integer.toUnsignedString(nDims)
                    + " dimensions; ggml tensors have 1 to " + MAX_DIMS, FIX_CORRUPT);
        }
        long[] dims = new long[nDims];
        long elements = 1;
        for (int j = 0; j < nDims; j++) {
            long dimAt = pos();
            long d = u64();
            if (d < 1) {
                throw fail(dimAt, who + " has dimension " + j + " = " + unsigned(d)
                        + "; every dimension must be at least 1", FIX_CORRUPT);
            }
            dims[j] = d;
            try {
                elements = Math.multiplyExact(elements, d);
            } catch (ArithmeticException e) {
                throw fail(dimAt, who + " has shape " + shape(dims, j + 1)
                        + ": its element count does not fit in 64 bits", FIX_CORRUPT);
            }
        }
        long typeAt = pos();
        int typeId = u32();
        GgmlType type = GgmlType.byId(typeId).orElseThrow(() -> fail(typeAt, who + " has " + unknownType(typeId),
                typeId == 39 || typeId >= 40 && typeId < 64
                        ? "Use a build of this model quantized to a type llama.cpp b4916 supports (e.g. Q4_K_M or Q8_0)."
                        : FIX_CORRUPT));
        if (dims[0] % type.blockSize() != 0) {
            throw fail(typeAt, who + " has rows of " + group(dims[0]) + " elements, not a multiple of "
                    + type + "'s block size " + type.blockSize(), FIX_CORRUPT);
        }
        long byteSize;
        try {
            byteSize = type.byteSize(elements);
        } catch (ArithmeticException e) {
            throw fail(typeAt, who + " with shape " + shape(dims, nDims) + " would take more than 2^63 bytes",
                    FIX_CORRUPT);
        }
        long offsetAt = pos();
        long offset = u64();
        if (offset < 0) {
            throw fail(offsetAt, who + " has data offset " + unsigned(offset) + ", far past the end of the file ("
                    + group(fileSize) + " bytes)", FIX_CORRUPT);
        }
        if (offset % alignment != 0) {
            throw fail(offsetAt, who + " has data offset " + group(offset) + ", which is not a multiple of the "
                    + "alignment " + alignment, FIX_CORRUPT);
        }
        return new GgufTensor(name, dims, type, offset, byteSize);
    }

    private static String unknownType(int id) {
        String known = switch (id) {
            case 4, 5 -> " (Q4_2/Q4_3, removed from ggml in 2023)";
            case 31, 32, 33 -> " (Q4_0_4_4/Q4_0_4_8/Q4_0_8_8: ARM repacked types, removed from GGUF files; "
                    + "llama.cpp now repacks Q4_0 when it loads)";
            case 36, 37, 38 -> " (IQ4_NL_4_4/4_8/8_8: repacked types, removed from GGUF files)";
            case 39 -> " (MXFP4, added to llama.cpp after b4916)";
            default -> id >= 40 && id < 64 ? " (a type newer than llama.cpp b4916)" : "";
        };
        return "unknown ggml type " + Integer.toUnsignedString(id) + known;
    }

    private void checkDataLayout(List<GgufTensor> tensors, long[] infoAt, long dataOffset, int alignment)
            throws GgufException {
        for (int i = 0; i < tensors.size(); i++) {
            GgufTensor t = tensors.get(i);
            long start = dataOffset + t.offset(); // no overflow: offset >= 0 and dataOffset < 2^29
            if (start < 0 || start > fileSize) {
                throw fail(infoAt[i], "tensor '" + t.name() + "' data starts at byte " + unsignedGroup(start)
                        + ", past the end of the file (" + group(fileSize) + " bytes; truncated download?)",
                        FIX_TRUNCATED);
            }
            if (t.byteSize() > fileSize - start) {
                throw fail(infoAt[i], "tensor '" + t.name() + "' data ends at byte "
                        + unsignedGroup(start + t.byteSize()) + " but the file has " + group(fileSize)
                        + " bytes (truncated download?)", FIX_TRUNCATED);
            }
        }
        Integer[] order = new Integer[tensors.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Long.compare(tensors.get(a).offset(), tensors.get(b).offset()));
        for (int k = 1; k < order.length; k++) {
            GgufTensor prev = tensors.get(order[k - 1]);
            GgufTensor t = tensors.get(order[k]);
            if (t.offset() < prev.offset() + prev.byteSize()) {
                throw fail(infoAt[order[k]], "tensors '" + prev.name() + "' and '" + t.name() + "' overlap: '"
                        + prev.name() + "' takes data bytes " + group(prev.offset()) + " to "
                        + group(prev.offset() + prev.byteSize()) + ", '" + t.name() + "' starts at "
                        + group(t.offset()), FIX_CORRUPT);
            }
        }
        // llama.cpp (gguf.cpp) refuses files whose tensors are not stored back to back, in table
        // order, each padded to the alignment. Checked last so that the errors above, which say
        // more, win.
        long expected = 0;
        for (int i = 0; i < tensors.size(); i++) {
            GgufTensor t = tensors.get(i);
            if (t.offset() != expected) {
                throw fail(infoAt[i], "tensor '" + t.name() + "' has data offset " + group(t.offset())
                        + ", but llama.cpp requires the tensors to be stored back to back in table order, each "
                        + "padded to the alignment of " + alignment + ", which puts it at " + group(expected),
                        "The file was written by a non-standard tool; re-create it with a current llama.cpp "
                                + "convert script or gguf-py.");
            }
            expected += alignUp(t.byteSize(), alignment);
        }
    }

    // ------------------------------------------------------------------ primitive reads

    private long pos() {
        return bufStart + buf.position();
    }

    /** Fails unless {@code n} more bytes of the header region exist from the current position. */
    private void need(long n) throws GgufException {
        long at = pos();
        if (n > fileSize - at) {
            throw fail(at, "the file has only " + group(fileSize) + " bytes, but " + context + " at byte "
                    + group(at) + " needs " + group(n) + " more (truncated download?)", FIX_TRUNCATED);
        }
        if (n > limit - at) {
            throw fail(at, context + " at byte " + group(at) + " lies beyond the first "
                    + mib(maxHeaderBytes) + "; metadata and tensor table that large are refused "
                    + "(no real model needs them)", FIX_CORRUPT);
        }
    }

    /** Makes {@code n <= BUFFER_BYTES} bytes available in {@code buf}; {@link #need} has checked them. */
    private void fill(int n) throws GgufException {
        if (buf.remaining() >= n) {
            return;
        }
        bufStart += buf.position();
        buf.compact();
        try {
            while (buf.position() < n) {
                if (channel.read(buf, bufStart + buf.position()) < 0) {
                    buf.flip();
                    throw fail(pos(), "the file shrank to fewer bytes than its size of " + group(fileSize)
                            + " while it was being read", "Wait until the file is completely written, then retry.");
                }
            }
        } catch (IOException e) {
            if (e instanceof GgufException g) {
                throw g;
            }
            throw fail(pos(), "cannot be read at byte " + group(pos()) + ": " + e.getMessage(),
                    "Check that the disk is healthy and the file is readable.", e);
        }
        buf.flip();
    }

    private int u8() throws GgufException {
        need(1);
        fill(1);
        return buf.get() & 0xFF;
    }

    private short u16() throws GgufException {
        need(2);
        fill(2);
        return buf.getShort();
    }

    private int u32() throws GgufException {
        need(4);
        fill(4);
        return buf.getInt();
    }

    private long u64() throws GgufException {
        need(8);
        fill(8);
        return buf.getLong();
    }

    private boolean bool(String what, long element) throws GgufException {
        long at = pos();
        int b = u8();
        if (b > 1) {
            throw fail(at, element(what, element) + " is a boolean stored as " + b
                    + "; GGUF booleans must be 0 or 1", FIX_CORRUPT);
        }
        return b == 1;
    }

    private void bulk(byte[] out) throws GgufException {
        need(out.length);
        read(out);
    }

    private byte[] bytes(int n) throws GgufException {
        need(n);
        byte[] out = new byte[n];
        read(out);
        return out;
    }

    /** Reads {@code out.length} bytes that {@link #need} has checked. */
    private void read(byte[] out) throws GgufException {
        int have = Math.min(buf.remaining(), out.length);
        buf.get(out, 0, have);
        if (have == out.length) {
            return;
        }
        // Larger than what is buffered: read the rest straight into the array.
        long at = pos();
        ByteBuffer dst = ByteBuffer.wrap(out, have, out.length - have);
        try {
            while (dst.hasRemaining()) {
                if (channel.read(dst, at + dst.position() - have) < 0) {
                    throw fail(at, "the file shrank to fewer bytes than its size of " + group(fileSize)
                            + " while it was being read", "Wait until the file is completely written, then retry.");
                }
            }
        } catch (IOException e) {
            if (e instanceof GgufException g) {
                throw g;
            }
            throw fail(at, "cannot be read at byte " + group(at) + ": " + e.getMessage(),
                    "Check that the disk is healthy and the file is readable.", e);
        }
        bufStart = at + out.length - have;
        buf.clear().limit(0);
    }

    private String string(String what, long element) throws GgufException {
        long at = pos();
        long len = u64();
        long left = fileSize - pos();
        if (len < 0 || len > left) {
            throw fail(at, element(what, element) + " is a string of " + unsignedGroup(len)
                    + " bytes, but only " + group(left) + " bytes are left in the file (truncated or corrupt file?)",
                    FIX_TRUNCATED);
        }
        need(len);
        if (len == 0) {
            return ""; // shared: vocabularies may hold many empty strings
        }
        charge(at, STRING_HEAP_BYTES + 2 * len); // the bytes, then the String
        byte[] bytes = new byte[(int) len];
        read(bytes);
        return decode(bytes, at + 8, what, element);
    }

    private String decode(byte[] b, long at, String what, long element) throws GgufException {
        boolean ascii = true;
        for (byte x : b) {
            if (x < 0) {
                ascii = false;
                break;
            }
        }
        if (ascii) {
            return new String(b, StandardCharsets.ISO_8859_1); // same chars, no decoder needed
        }
        ByteBuffer in = ByteBuffer.wrap(b);
        CharBuffer out = CharBuffer.allocate(b.length);
        utf8.reset();
        CoderResult r = utf8.decode(in, out, true);
        if (!r.isError()) {
            r = utf8.flush(out);
        }
        if (r.isError()) {
            int bad = in.position();
            throw fail(at + bad, element(what, element) + " is not valid UTF-8 (byte 0x"
                    + String.format(Locale.ROOT, "%02X", b[bad] & 0xFF) + " at byte " + group(at + bad) + ")",
                    FIX_CORRUPT);
        }
        return out.flip().toString();
    }

    // ------------------------------------------------------------------ helpers

    /** Accounts for {@code bytes} of heap about to be allocated for the metadata. */
    private void charge(long at, long bytes) throws GgufException {
        heap += bytes;
        if (heap > maxHeap) {
            throw fail(at, context + " at byte " + group(at) + " would take the metadata past " + mib(maxHeap)
                    + " of memory; no real model needs that much", FIX_CORRUPT);
        }
    }

    private static String mib(long bytes) {
        return bytes >= 1 << 20 ? group(bytes >> 20) + " MiB" : group(bytes) + " bytes";
    }

    private String roomReason() {
        return limit < fileSize ? " within the " + mib(maxHeaderBytes) + " allowed for metadata"
                : " (truncated or corrupt file?)";
    }

    private String roomFix() {
        return limit < fileSize ? FIX_CORRUPT : FIX_TRUNCATED;
    }

    private static String element(String what, long element) {
        return element < 0 ? what : what + ", element " + element;
    }

    private static String shape(long[] dims, int n) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < n; i++) {
            sb.append(i > 0 ? ", " : "").append(Long.toUnsignedString(dims[i]));
        }
        return sb.append(']').toString();
    }

    static long alignUp(long v, long alignment) {
        return (v + alignment - 1) & -alignment;
    }

    private static int utf8Length(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c)) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }

    private static String printable(byte[] m) {
        StringBuilder sb = new StringBuilder();
        for (byte b : m) {
            sb.append(b >= 0x20 && b < 0x7F ? (char) b : '?');
        }
        return sb.toString();
    }

    static String group(long v) {
        return String.format(Locale.ROOT, "%,d", v);
    }

    private static String unsigned(long v) {
        return v >= 0 ? group(v) : Long.toUnsignedString(v);
    }

    private static String unsignedGroup(long v) {
        return unsigned(v);
    }

    private GgufException fail(long at, String what, String fix) {
        return new GgufException(file, at, what, fix);
    }

    private GgufException fail(long at, String what, String fix, Throwable cause) {
        return new GgufException(file, at, what, fix, cause);
    }
}
