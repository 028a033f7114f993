package io.loadstone.llamacpp;

import java.io.IOException;
import java.nio.file.Path;

import com.google.gson.JsonObject;

import io.loadstone.llamacpp.runner.RunnerLaunch;
import io.loadstone.llamacpp.runner.RunnerRuntime;
import io.loadstone.testsupport.Logits;
import io.loadstone.testsupport.NativeLibraries;
import io.loadstone.testsupport.References;
import io.loadstone.testsupport.SharedModels;

/** Where the tests find the native library and the shared model files. */
final class TestFiles {

    private TestFiles() {
    }

    static Path library() {
        return NativeLibraries.llamaCpp();
    }

    /** A runtime with each model in a runner process, as the bundle runs them. */
    static RunnerRuntime runner() throws LlamaException {
        return RunnerRuntime.start(RunnerLaunch.outsideOsgi(library(), "llama.cpp-b4916"));
    }

    static Path models() {
        return SharedModels.root();
    }

    static Path stories() {
        return models().resolve("stories260K.gguf");
    }

    static JsonObject reference(String adapterFolder) throws IOException {
        return References.read(models().resolve(adapterFolder).resolve("reference.json"));
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

    static int argmax(float[] a) {
        return Logits.argmax(a);
    }
}
