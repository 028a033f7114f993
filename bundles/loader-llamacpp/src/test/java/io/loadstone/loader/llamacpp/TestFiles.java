package io.loadstone.loader.llamacpp;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.Reader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import io.loadstone.gguf.GgufFile;
import io.loadstone.gguf.GgufTensor;
import io.loadstone.gguf.GgufWriter;

/** Where the tests find the native library and the shared model files, and GGUF variants. */
final class TestFiles {

    private TestFiles() {
    }

    static Path library() {
        String p = System.getProperty("loadstone.llamacpp.library");
        assumeTrue(p != null && Files.isRegularFile(Path.of(p)),
                "native library not unpacked (system property loadstone.llamacpp.library=" + p + ")");
        return Path.of(p);
    }

    static Path models() {
        Path dir = Path.of(System.getProperty("loadstone.shared.models", "../../../shared/models"));
        assumeTrue(Files.isDirectory(dir), "shared models folder " + dir.toAbsolutePath() + " is absent");
        return dir;
    }

    static Path stories() {
        return models().resolve("stories260K.gguf");
    }

    static JsonObject reference() throws IOException {
        try (Reader r = Files.newBufferedReader(models().resolve("stories260K-lora-r8").resolve("reference.json"))) {
            return JsonParser.parseReader(r).getAsJsonObject();
        }
    }

    static int[] ints(JsonObject o, String key) {
        var a = o.getAsJsonArray(key);
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsInt();
        }
        return out;
    }

    static float[] floats(JsonObject o, String key) {
        var a = o.getAsJsonArray(key);
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsFloat();
        }
        return out;
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }

    /** A copy of stories260K with some metadata entries replaced (same tensors). */
    static Path storiesWith(Path target, Map<String, Object> replaced) throws IOException {
        GgufFile src = GgufFile.read(stories());
        GgufWriter w = new GgufWriter();
        for (var e : src.metadata().entrySet()) {
            if (e.getKey().equals("general.alignment")) {
                continue;
            }
            Object v = replaced.containsKey(e.getKey()) ? replaced.get(e.getKey()) : e.getValue();
            w.put(e.getKey(), src.valueType(e.getKey()).orElseThrow(), v);
        }
        try (FileChannel in = FileChannel.open(stories(), StandardOpenOption.READ)) {
            for (GgufTensor t : src.tensors()) {
                w.addTensor(t.name(), t.type(), t.dims(), out -> {
                    ByteBuffer b = ByteBuffer.allocate((int) t.byteSize());
                    in.read(b, src.dataOffset() + t.offset());
                    b.flip();
                    while (b.hasRemaining()) {
                        out.write(b);
                    }
                });
            }
            w.write(target);
        }
        return target;
    }
}
