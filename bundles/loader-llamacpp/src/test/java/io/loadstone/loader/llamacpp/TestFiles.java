package io.loadstone.loader.llamacpp;

import io.loadstone.testsupport.Logits;
import io.loadstone.testsupport.NativeLibraries;
import io.loadstone.testsupport.References;
import io.loadstone.testsupport.SharedModels;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

import com.google.gson.JsonObject;

import io.loadstone.gguf.GgufFile;
import io.loadstone.gguf.GgufTensor;
import io.loadstone.gguf.GgufWriter;

/** Where the tests find the native library and the shared model files, and GGUF variants. */
final class TestFiles {

    private TestFiles() {
    }

    static Path library() {
        return NativeLibraries.llamaCpp();
    }

    static Path models() {
        return SharedModels.root();
    }

    static Path stories() {
        return models().resolve("stories260K.gguf");
    }

    static JsonObject reference() throws IOException {
        return References.stories();
    }

    static int[] ints(JsonObject o, String key) {
        return References.ints(o.getAsJsonArray(key));
    }

    static float[] floats(JsonObject o, String key) {
        return References.floats(o.getAsJsonArray(key));
    }

    static double maxAbsDiff(float[] a, float[] b) {
        return Logits.maxAbsDiff(a, b);
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
