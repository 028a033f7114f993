package io.loadstone.llamacpp;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/** Where the tests find the native library and the shared model files. */
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
        String p = System.getProperty("loadstone.shared.models", "../../../shared/models");
        Path dir = Path.of(p);
        assumeTrue(Files.isDirectory(dir), "shared models folder " + dir.toAbsolutePath() + " is absent");
        return dir;
    }

    static Path stories() {
        return models().resolve("stories260K.gguf");
    }

    static JsonObject reference(String adapterFolder) throws IOException {
        try (Reader r = Files.newBufferedReader(models().resolve(adapterFolder).resolve("reference.json"))) {
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
        if (a.length != b.length) {
            throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }
}
