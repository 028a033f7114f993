package io.loadstone.itest;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import io.loadstone.gguf.GgmlType;
import io.loadstone.gguf.GgufArray;
import io.loadstone.gguf.GgufFile;
import io.loadstone.gguf.GgufTensor;
import io.loadstone.gguf.GgufValueType;
import io.loadstone.gguf.GgufWriter;

/**
 * Seeded mutations of a real GGUF file, as a fuzzer would make them: raw ones (bit flips in the
 * header or inside token strings, random bytes, truncation, tensor type/dims/offset fields
 * overwritten in the tensor table) and structured ones written back through {@link GgufWriter}
 * (a metadata value changed, retyped or removed, token/score/type arrays edited, the alignment
 * changed, a tensor retyped or reshaped). The same (file, seed, index) always gives the same
 * bytes, so a crasher is reproduced from its descriptor alone.
 */
public final class GgufMutator {

    /** One mutated file and what was done to it. */
    public record Variant(long seed, int index, String description, byte[] bytes) {
    }

    private final byte[] original;
    private final GgufFile parsed;
    private final long seed;
    /** Where each tensor's n_dims field starts in the tensor table. */
    private final Map<String, Integer> tableAt = new LinkedHashMap<>();
    private final int tokensStart;
    private final int tokensEnd;

    public GgufMutator(Path file, long seed) throws IOException {
        this.original = Files.readAllBytes(file);
        this.parsed = GgufFile.read(file);
        this.seed = seed;
        for (GgufTensor t : parsed.tensors()) {
            byte[] name = t.name().getBytes(StandardCharsets.UTF_8);
            int at = find(original, lengthPrefixed(name), 0, (int) parsed.dataOffset());
            if (at >= 0) {
                tableAt.put(t.name(), at + 8 + name.length);
            }
        }
        byte[] key = lengthPrefixed("tokenizer.ggml.tokens".getBytes(StandardCharsets.UTF_8));
        int k = find(original, key, 0, (int) parsed.dataOffset());
        tokensStart = k < 0 ? 0 : k + key.length + 4 + 4 + 8;
        int end = tokensStart;
        GgufArray toks = parsed.array("tokenizer.ggml.tokens").orElse(null);
        if (toks != null && k >= 0) {
            for (int i = 0; i < toks.size(); i++) {
                end += 8 + toks.getString(i).getBytes(StandardCharsets.UTF_8).length;
            }
        }
        tokensEnd = end;
    }

    /** Variant {@code index} of this mutator's sequence. */
    public Variant variant(int index) {
        Random r = new Random(seed * 1_000_003L + index);
        int kind = r.nextInt(12);
        try {
            return switch (kind) {
                case 0 -> flips(index, r, 0, (int) parsed.dataOffset(), "header");
                case 1 -> flips(index, r, tokensStart, tokensEnd, "token strings");
                case 2 -> truncate(index, r);
                case 3 -> randomBytes(index, r);
                case 4 -> tableField(index, r);
                case 5 -> rewritten(index, r, "value");
                case 6 -> rewritten(index, r, "retype");
                case 7 -> rewritten(index, r, "remove");
                case 8 -> rewritten(index, r, "tokens");
                case 9 -> rewritten(index, r, "alignment");
                case 10 -> rewritten(index, r, "tensor");
                default -> flips(index, r, 0, original.length, "anywhere");
            };
        } catch (IllegalArgumentException | ArithmeticException e) {
            // The writer refused the structured change (e.g. a shape the type cannot hold): flip a bit instead.
            return flips(index, r, 0, (int) parsed.dataOffset(), "header (fallback: " + e.getMessage() + ")");
        }
    }

    private Variant flips(int index, Random r, int from, int to, String where) {
        byte[] b = original.clone();
        int n = 1 + r.nextInt(4);
        StringBuilder d = new StringBuilder("bit flips in " + where + " at");
        for (int i = 0; i < n && to > from; i++) {
            int at = from + r.nextInt(to - from);
            int bit = r.nextInt(8);
            b[at] ^= (byte) (1 << bit);
            d.append(' ').append(at).append('.').append(bit);
        }
        return new Variant(seed, index, d.toString(), b);
    }

    private Variant truncate(int index, Random r) {
        int len = r.nextBoolean() ? r.nextInt((int) parsed.dataOffset() + 1) : r.nextInt(original.length);
        byte[] b = new byte[len];
        System.arraycopy(original, 0, b, 0, len);
        return new Variant(seed, index, "truncated to " + len + " bytes", b);
    }

    private Variant randomBytes(int index, Random r) {
        byte[] b = original.clone();
        int at = r.nextInt((int) parsed.dataOffset());
        int n = 1 + r.nextInt(8);
        for (int i = 0; i < n && at + i < b.length; i++) {
            b[at + i] = (byte) r.nextInt(256);
        }
        return new Variant(seed, index, n + " random bytes at " + at, b);
    }

    /** Overwrites a tensor's n_dims, one dimension, its type or its offset in the tensor table. */
    private Variant tableField(int index, Random r) {
        List<String> names = new ArrayList<>(tableAt.keySet());
        String name = names.get(r.nextInt(names.size()));
        GgufTensor t = parsed.tensor(name).orElseThrow();
        int at = tableAt.get(name);
        ByteBuffer b = ByteBuffer.wrap(original.clone()).order(ByteOrder.LITTLE_ENDIAN);
        int typeAt = at + 4 + 8 * t.rank();
        String what;
        switch (r.nextInt(4)) {
            case 0 -> {
                int v = r.nextInt(6);
                b.putInt(at, v);
                what = "n_dims = " + v;
            }
            case 1 -> {
                int dim = r.nextInt(t.rank());
                long v = switch (r.nextInt(4)) {
                    case 0 -> 0;
                    case 1 -> t.dim(dim) * 2;
                    case 2 -> t.dim(dim) / 2;
                    default -> r.nextLong();
                };
                b.putLong(at + 4 + 8 * dim, v);
                what = "dims[" + dim + "] = " + v;
            }
            case 2 -> {
                int v = r.nextBoolean() ? GgmlType.values()[r.nextInt(GgmlType.values().length)].id() : r.nextInt(64);
                b.putInt(typeAt, v);
                what = "type = " + v;
            }
            default -> {
                long v = r.nextBoolean() ? t.offset() + 32L * (r.nextInt(64) - 32) : r.nextLong();
                b.putLong(typeAt + 4, v);
                what = "offset = " + v;
            }
        }
        return new Variant(seed, index, "tensor table: " + name + " " + what, b.array());
    }

    /** A structured change written back through the writer (tensor data copied from the original). */
    private Variant rewritten(int index, Random r, String kind) {
        Map<String, Object[]> meta = new LinkedHashMap<>();
        parsed.metadata().forEach((k, v) -> meta.put(k, new Object[] {parsed.valueType(k).orElseThrow(), v}));
        Map<String, GgmlType> retype = new LinkedHashMap<>();
        Map<String, long[]> reshape = new LinkedHashMap<>();
        List<String> keys = new ArrayList<>(meta.keySet());
        String d;
        switch (kind) {
            case "value" -> {
                String k = keys.get(r.nextInt(keys.size()));
                Object[] e = meta.get(k);
                Object v = odd((GgufValueType) e[0], r);
                if (v == null) {
                    meta.remove(k);
                    d = "removed " + k;
                } else {
                    e[1] = v;
                    d = k + " = " + String.valueOf(v);
                }
            }
            case "retype" -> {
                String k = keys.get(r.nextInt(keys.size()));
                GgufValueType[] scalar = {GgufValueType.UINT8, GgufValueType.INT32, GgufValueType.UINT32,
                        GgufValueType.FLOAT32, GgufValueType.BOOL, GgufValueType.STRING, GgufValueType.UINT64,
                        GgufValueType.FLOAT64, GgufValueType.INT16};
                GgufValueType t = scalar[r.nextInt(scalar.length)];
                Object v = odd(t, r);
                meta.put(k, new Object[] {t, v == null ? defaultOf(t) : v});
                d = k + " retyped to " + t + " = " + meta.get(k)[1];
            }
            case "remove" -> {
                String k = keys.get(r.nextInt(keys.size()));
                meta.remove(k);
                d = "removed " + k;
            }
            case "tokens" -> d = tokens(meta, r);
            case "alignment" -> {
                long a = 1L << r.nextInt(9);
                meta.put("general.alignment", new Object[] {GgufValueType.UINT32, a});
                d = "general.alignment = " + a;
            }
            default -> {
                List<GgufTensor> ts = parsed.tensors();
                GgufTensor t = ts.get(r.nextInt(ts.size()));
                if (r.nextBoolean()) {
                    GgmlType[] types = {GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K,
                            GgmlType.Q6_K, GgmlType.I8, GgmlType.I32, GgmlType.F64};
                    GgmlType nt = types[r.nextInt(types.length)];
                    retype.put(t.name(), nt);
                    d = "tensor " + t.name() + " as " + nt;
                } else {
                    long[] dims = t.dims().clone();
                    if (dims.length > 1) {
                        long x = dims[0];
                        dims[0] = dims[1];
                        dims[1] = x;
                    } else {
                        dims = new long[] {dims[0] / 2, 2};
                    }
                    reshape.put(t.name(), dims);
                    d = "tensor " + t.name() + " reshaped to " + java.util.Arrays.toString(dims);
                }
            }
        }
        GgufWriter w = new GgufWriter();
        meta.forEach((k, e) -> w.put(k, (GgufValueType) e[0], e[1]));
        for (GgufTensor t : parsed.tensors()) {
            GgmlType type = retype.getOrDefault(t.name(), t.type());
            long[] dims = reshape.getOrDefault(t.name(), t.dims());
            long elements = 1;
            for (long x : dims) {
                elements = Math.multiplyExact(elements, x);
            }
            byte[] data = new byte[Math.toIntExact(type.byteSize(elements))];
            int start = (int) (parsed.dataOffset() + t.offset());
            System.arraycopy(original, start, data, 0, (int) Math.min(data.length, t.byteSize()));
            if (type != t.type()) {
                r.nextBytes(data); // plausible-looking garbage for the new type
            }
            w.addTensor(t.name(), type, dims, data);
        }
        try {
            Path tmp = Files.createTempFile("gguf-mutant", ".gguf");
            try {
                w.write(tmp);
                return new Variant(seed, index, d, Files.readAllBytes(tmp));
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot write the variant: " + e.getMessage(), e);
        }
    }

    private String tokens(Map<String, Object[]> meta, Random r) {
        Object[] e = meta.get("tokenizer.ggml.tokens");
        if (e == null) {
            return "no tokens to edit";
        }
        GgufArray a = (GgufArray) e[1];
        List<String> t = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            t.add(a.getString(i));
        }
        int i = r.nextInt(t.size());
        String d;
        switch (r.nextInt(7)) {
            case 0 -> {
                int j = r.nextInt(t.size());
                t.set(i, t.get(j));
                d = "tokens[" + i + "] = tokens[" + j + "]";
            }
            case 1 -> {
                t.set(i, "");
                d = "tokens[" + i + "] empty";
            }
            case 2 -> {
                int n = r.nextInt(t.size());
                t = new ArrayList<>(t.subList(0, n));
                d = "tokens cut to " + n;
            }
            case 3 -> {
                int n = 1 + r.nextInt(100);
                for (int k = 0; k < n; k++) {
                    t.add("<extra" + k + ">");
                }
                d = n + " tokens added";
            }
            case 4 -> {
                meta.put("tokenizer.ggml.scores", new Object[] {GgufValueType.ARRAY, GgufArray.ofFloat32(
                        new float[r.nextInt(t.size())])});
                d = "scores shortened";
            }
            case 5 -> {
                int[] types = new int[r.nextBoolean() ? t.size() : r.nextInt(t.size())];
                for (int k = 0; k < types.length; k++) {
                    types[k] = r.nextInt(8);
                }
                meta.put("tokenizer.ggml.token_type", new Object[] {GgufValueType.ARRAY, GgufArray.ofInt32(types)});
                d = "token types randomised (" + types.length + ")";
            }
            default -> {
                t.set(i, "<0x" + Integer.toHexString(r.nextInt(4096)) + ">");
                d = "tokens[" + i + "] = " + t.get(i);
            }
        }
        e[1] = GgufArray.ofStrings(t);
        return d;
    }

    /** A value of {@code type} a converter would never write: 0, -1, huge, NaN, or null for "remove". */
    private static Object odd(GgufValueType type, Random r) {
        return switch (type) {
            case UINT8, INT8, UINT16, INT16 -> (Object) (r.nextBoolean() ? 0 : 127);
            case UINT32 -> new long[] {0, 1, 0xFFFF_FFFFL, 1_000_000_000L, 10_000_000L, 3}[r.nextInt(6)];
            case INT32 -> new int[] {0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, 7}[r.nextInt(5)];
            case UINT64, INT64 -> new long[] {0, -1, Long.MAX_VALUE, 1L << 40}[r.nextInt(4)];
            case FLOAT32 -> new float[] {0f, -1e-5f, Float.NaN, Float.POSITIVE_INFINITY, 1e30f, -0f}[r.nextInt(6)];
            case FLOAT64 -> new double[] {0, -1, Double.NaN, 1e300}[r.nextInt(4)];
            case BOOL -> r.nextBoolean();
            case STRING -> new String[] {"", "llamax", "gpt2", "none", "bert", "x".repeat(1000)}[r.nextInt(6)];
            case ARRAY -> null;
        };
    }

    private static Object defaultOf(GgufValueType t) {
        return switch (t) {
            case STRING -> "x";
            case BOOL -> true;
            case FLOAT32 -> 1f;
            case FLOAT64 -> 1d;
            default -> 1;
        };
    }

    private static byte[] lengthPrefixed(byte[] s) {
        return ByteBuffer.allocate(8 + s.length).order(ByteOrder.LITTLE_ENDIAN).putLong(s.length).put(s).array();
    }

    private static int find(byte[] hay, byte[] needle, int from, int to) {
        outer:
        for (int i = from; i + needle.length <= Math.min(to, hay.length); i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
