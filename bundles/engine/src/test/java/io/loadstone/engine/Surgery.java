package io.loadstone.engine;

import io.loadstone.engine.json.Json;
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

/** Takes a real safetensors file apart (header map + data bytes) and writes edited copies. */
final class Surgery {

    final Map<String, Object> header;
    final byte[] data;

    @SuppressWarnings("unchecked")
    Surgery(Path file) throws Exception {
        byte[] all = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        Map<String, Object> h = Json.parseObject(new String(all, 8, (int) n, StandardCharsets.UTF_8));
        header = new LinkedHashMap<>();
        h.forEach((k, v) -> header.put(k, v instanceof Map<?, ?> m ? new LinkedHashMap<>((Map<String, Object>) m) : v));
        data = java.util.Arrays.copyOfRange(all, 8 + (int) n, all.length);
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> tensor(String name) {
        return (Map<String, Object>) header.get(name);
    }

    /** Tensor names ordered by their begin offset. */
    List<String> byOffset() {
        List<String> names = new ArrayList<>(header.keySet());
        names.remove("__metadata__");
        names.sort((a, b) -> Long.compare(begin(a), begin(b)));
        return names;
    }

    long begin(String name) {
        return ((Number) ((List<?>) tensor(name).get("data_offsets")).get(0)).longValue();
    }

    long end(String name) {
        return ((Number) ((List<?>) tensor(name).get("data_offsets")).get(1)).longValue();
    }

    byte[] headerBytes() {
        return toJson(header).getBytes(StandardCharsets.UTF_8);
    }

    void write(Path file) throws IOException {
        write(file, headerBytes(), data);
    }

    static void write(Path file, byte[] headerBytes, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + headerBytes.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerBytes.length).put(headerBytes).put(data);
        Files.write(file, b.array());
    }

    static String toJson(Object v) {
        if (v instanceof Map<?, ?> m) {
            StringBuilder s = new StringBuilder("{");
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (s.length() > 1) {
                    s.append(',');
                }
                s.append(toJson(e.getKey())).append(':').append(toJson(e.getValue()));
            }
            return s.append('}').toString();
        }
        if (v instanceof List<?> l) {
            StringBuilder s = new StringBuilder("[");
            for (Object o : l) {
                if (s.length() > 1) {
                    s.append(',');
                }
                s.append(toJson(o));
            }
            return s.append(']').toString();
        }
        if (v instanceof String s) {
            return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
        }
        return String.valueOf(v);
    }
}
