package io.loadstone.engine;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.loadstone.engine.json.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The shared real checkpoints (see /work/shared/models/README.md) and their reference outputs. */
public final class TestModels {

    private TestModels() {
    }

    public static Path root() {
        String p = System.getProperty("loadstone.shared.models", "../../../shared/models");
        Path root = Path.of(p).toAbsolutePath().normalize();
        assumeTrue(Files.isDirectory(root), "shared model folder " + root + " is absent; skipping tests on real checkpoints");
        return root;
    }

    public static Path model(String name) {
        Path p = root().resolve(name);
        assumeTrue(Files.isDirectory(p), "model " + p + " is absent; skipping");
        return p;
    }

    public static Map<String, Object> json(Path file) throws Exception {
        return Json.parseObject(Files.readString(file));
    }

    public static int[] ints(Object list) {
        return ((List<?>) list).stream().mapToInt(o -> ((Number) o).intValue()).toArray();
    }

    public static float[] floats(Object list) {
        List<?> l = (List<?>) list;
        float[] out = new float[l.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) l.get(i)).floatValue();
        }
        return out;
    }

    public static float maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        }
        float m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    /** Greedy decoding with the KV cache: one forward for the prompt, then one token at a time. */
    public static int[] greedy(EngineSession s, int[] prompt, int steps) {
        int[] out = new int[steps];
        float[] logits = s.forward(prompt);
        for (int i = 0; i < steps; i++) {
            out[i] = argmax(logits);
            logits = s.forward(new int[] {out[i]});
        }
        return out;
    }

    public static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
