package io.loadstone.testsupport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

/** PEFT adapter folders for the tests: the shared ones, and broken or foreign ones made from them. */
public final class LoraAdapters {

    public static final String Q = "base_model.model.model.layers.%d.self_attn.q_proj.lora_%s.weight";

    private LoraAdapters() {
    }

    public static Path r8() {
        return SharedModels.root().resolve("stories260K-lora-r8");
    }

    public static Path r4() {
        return SharedModels.root().resolve("stories260K-lora-r4-qv");
    }

    /**
     * An adapter as PEFT would save it for another model: r8's config, and for each named tensor
     * ({@link #Q} filled in) F32 values of that shape.
     */
    public static Path foreign(Path dir, Map<String, long[]> shapes) throws IOException {
        Files.createDirectories(dir);
        Files.copy(r8().resolve("adapter_config.json"), dir.resolve("adapter_config.json"));
        JsonObject header = new JsonObject();
        long offset = 0;
        Map<String, Long> sizes = new LinkedHashMap<>();
        for (var e : shapes.entrySet()) {
            long n = 1;
            JsonArray shape = new JsonArray();
            for (long d : e.getValue()) {
                n *= d;
                shape.add(d);
            }
            JsonObject t = new JsonObject();
            t.addProperty("dtype", "F32");
            t.add("shape", shape);
            JsonArray off = new JsonArray();
            off.add(offset);
            off.add(offset + n * 4);
            t.add("data_offsets", off);
            header.add(e.getKey(), t);
            sizes.put(e.getKey(), n * 4);
            offset += n * 4;
        }
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        while (b.hasRemaining()) {
            b.putFloat(0.01f);
        }
        Files.write(dir.resolve("adapter_model.safetensors"), b.array());
        return dir;
    }

    /** r8 with its adapter_model.safetensors changed by {@code damage}. */
    public static Path damaged(Path dir, java.util.function.UnaryOperator<byte[]> damage) throws IOException {
        Files.createDirectories(dir);
        Files.copy(r8().resolve("adapter_config.json"), dir.resolve("adapter_config.json"));
        byte[] st = Files.readAllBytes(r8().resolve("adapter_model.safetensors"));
        Files.write(dir.resolve("adapter_model.safetensors"), damage.apply(st));
        return dir;
    }

    /** r8 with one F32 value of its tensor data replaced by NaN (the last one). */
    public static byte[] withNaN(byte[] st) {
        byte[] out = st.clone();
        ByteBuffer.wrap(out, out.length - 4, 4).order(ByteOrder.LITTLE_ENDIAN).putFloat(Float.NaN);
        return out;
    }

    /** r8 with its JSON header overwritten by noise (the length prefix intact). */
    public static byte[] withNoisyHeader(byte[] st) {
        byte[] out = st.clone();
        java.util.Random rnd = new java.util.Random(1);
        for (int i = 8; i < 200; i++) {
            out[i] = (byte) rnd.nextInt(256);
        }
        return out;
    }

    /** Random bytes of r8's size: not even a length prefix. */
    public static byte[] noise(byte[] st) {
        byte[] out = new byte[st.length];
        new java.util.Random(2).nextBytes(out);
        return out;
    }
}
