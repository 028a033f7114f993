package io.loadstone.llamacpp;

import java.io.IOException;
import java.nio.file.Files;
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

    static final String B4916 = "llama.cpp-b4916";
    static final String V050 = "llama.cpp-v0.5.0";

    static Path library() {
        return NativeLibraries.llamaCpp();
    }

    /** llama.cpp v0.5.0's libllama, unpacked by the pom with its libggml* beside it. */
    static Path libraryV050() {
        String p = System.getProperty("loadstone.llamacpp.v050.library");
        if (p == null || !Files.isRegularFile(Path.of(p))) {
            throw new IllegalStateException("Run the tests through Maven: loadstone.llamacpp.v050.library=" + p);
        }
        return Path.of(p);
    }

    /** A runtime with each model in a runner process, as the bundle runs them. */
    static RunnerRuntime runner() throws LlamaException {
        return runner(library(), B4916);
    }

    static RunnerRuntime runner(Path library, String build) throws LlamaException {
        return RunnerRuntime.start(RunnerLaunch.outsideOsgi(library, build));
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
