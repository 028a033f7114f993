package io.loadstone.itest;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/**
 * Seeded mutations of a Hugging Face folder's {@code model.safetensors} (header length, the
 * JSON header's dtypes, shapes and data offsets, invalid JSON, truncation, bit flips) and of its
 * {@code config.json} (sizes absurdly large, zero or of the wrong type), as a fuzzer makes them.
 * The same (folder, seed, index) always gives the same bytes.
 */
public final class SafetensorsMutator {

    /** The mutated weights and config, and what was done. */
    public record Variant(long seed, int index, String description, byte[] weights, String config) {
    }

    private final byte[] original;
    private final String config;
    private final long seed;
    private final int headerLength;
    private final JsonObject header;

    public SafetensorsMutator(Path folder, long seed) throws IOException {
        this.original = Files.readAllBytes(folder.resolve("model.safetensors"));
        this.config = Files.readString(folder.resolve("config.json"));
        this.seed = seed;
        this.headerLength = (int) ByteBuffer.wrap(original, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        this.header = JsonParser.parseString(new String(original, 8, headerLength, StandardCharsets.UTF_8))
                .getAsJsonObject();
    }

    public Variant variant(int index) {
        Random r = new Random(seed * 7_919L + index);
        return switch (r.nextInt(9)) {
            case 0 -> headerLengthField(index, r);
            case 1, 2 -> tensorEntry(index, r);
            case 3 -> brokenJson(index, r);
            case 4 -> truncated(index, r);
            case 5 -> flips(index, r);
            default -> configValue(index, r);
        };
    }

    private Variant headerLengthField(int index, Random r) {
        byte[] b = original.clone();
        long v = new long[] {0, 1, headerLength - 1, headerLength + 1, original.length, Long.MAX_VALUE, -1,
                1L << 40}[r.nextInt(8)];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, v);
        return new Variant(seed, index, "header length = " + v, b, config);
    }

    private Variant tensorEntry(int index, Random r) {
        JsonObject h = header.deepCopy();
        List<String> names = new ArrayList<>(h.keySet());
        names.remove("__metadata__");
        String name = names.get(r.nextInt(names.size()));
        JsonObject t = h.getAsJsonObject(name);
        String d;
        switch (r.nextInt(6)) {
            case 0 -> {
                String dt = new String[] {"F16", "BF16", "I8", "U8", "I64", "BOOL", "F64", "F8_E4M3", "X", ""}[r
                        .nextInt(10)];
                t.addProperty("dtype", dt);
                d = name + " dtype " + dt;
            }
            case 1 -> {
                JsonArray s = t.getAsJsonArray("shape");
                JsonArray ns = new JsonArray();
                int mode = r.nextInt(5);
                for (JsonElement e : s) {
                    long v = e.getAsLong();
                    ns.add(switch (mode) {
                        case 0 -> 0;
                        case 1 -> v * 2;
                        case 2 -> -v;
                        case 3 -> Long.MAX_VALUE / 2;
                        default -> v;
                    });
                }
                if (mode == 4) {
                    ns.add(1);
                }
                t.add("shape", ns);
                d = name + " shape " + ns;
            }
            case 2 -> {
                JsonArray o = t.getAsJsonArray("data_offsets");
                long a = o.get(0).getAsLong();
                long b = o.get(1).getAsLong();
                JsonArray no = new JsonArray();
                switch (r.nextInt(4)) {
                    case 0 -> {
                        no.add(b);
                        no.add(a);
                    }
                    case 1 -> {
                        no.add(a);
                        no.add(b + original.length);
                    }
                    case 2 -> {
                        no.add(-8);
                        no.add(b - a - 8);
                    }
                    default -> {
                        no.add(0);
                        no.add(b - a);
                    }
                }
                t.add("data_offsets", no);
                d = name + " data_offsets " + no;
            }
            case 3 -> {
                h.remove(name);
                d = "removed " + name;
            }
            case 4 -> {
                t.add("shape", new com.google.gson.JsonPrimitive("x"));
                d = name + " shape is a string";
            }
            default -> {
                JsonObject m = new JsonObject();
                m.addProperty("format", "pt");
                m.add("nested", h.deepCopy());
                h.add("__metadata__", m);
                d = "__metadata__ holds an object";
            }
        }
        return new Variant(seed, index, d, withHeader(h.toString()), config);
    }

    private Variant brokenJson(int index, Random r) {
        String json = header.toString();
        String bad = switch (r.nextInt(3)) {
            case 0 -> json.substring(0, r.nextInt(json.length()));
            case 1 -> "[" + json + "]";
            default -> json.replace("\"dtype\"", "\"dtype\"\"");
        };
        return new Variant(seed, index, "header JSON broken", withHeader(bad), config);
    }

    private Variant truncated(int index, Random r) {
        int len = r.nextInt(original.length);
        byte[] b = new byte[len];
        System.arraycopy(original, 0, b, 0, len);
        return new Variant(seed, index, "truncated to " + len + " bytes", b, config);
    }

    private Variant flips(int index, Random r) {
        byte[] b = original.clone();
        int n = 1 + r.nextInt(4);
        StringBuilder d = new StringBuilder("bit flips at");
        for (int i = 0; i < n; i++) {
            int at = r.nextBoolean() ? r.nextInt(8 + headerLength) : r.nextInt(b.length);
            b[at] ^= (byte) (1 << r.nextInt(8));
            d.append(' ').append(at);
        }
        return new Variant(seed, index, d.toString(), b, config);
    }

    private Variant configValue(int index, Random r) {
        JsonObject c = JsonParser.parseString(config).getAsJsonObject();
        String[] keys = {"num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads",
                "num_key_value_heads", "vocab_size", "max_position_embeddings", "head_dim", "rms_norm_eps",
                "rope_theta"};
        String k = keys[r.nextInt(keys.length)];
        JsonElement v = switch (r.nextInt(6)) {
            case 0 -> new com.google.gson.JsonPrimitive(10_000_000);
            case 1 -> new com.google.gson.JsonPrimitive(0);
            case 2 -> new com.google.gson.JsonPrimitive(-1);
            case 3 -> new com.google.gson.JsonPrimitive(2_000_000_000_000L);
            case 4 -> new com.google.gson.JsonPrimitive("64");
            default -> new com.google.gson.JsonPrimitive(1e-320);
        };
        c.add(k, v);
        return new Variant(seed, index, "config.json " + k + " = " + v, original, c.toString());
    }

    private byte[] withHeader(String json) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        int dataLen = original.length - 8 - headerLength;
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataLen).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(original, 8 + headerLength, dataLen);
        return b.array();
    }
}
