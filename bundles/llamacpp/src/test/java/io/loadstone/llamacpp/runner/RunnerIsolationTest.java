package io.loadstone.llamacpp.runner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.llamacpp.CacheType;
import io.loadstone.llamacpp.ContextParams;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.ModelClosedException;
import io.loadstone.llamacpp.ModelParams;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.llamacpp.SamplerParams;
import io.loadstone.llamacpp.TokenSampler;
import io.loadstone.testsupport.NativeLibraries;
import io.loadstone.testsupport.SharedModels;

/**
 * What the runner process is for: a model's native failure (killed, abort(), a real GGML_ASSERT
 * on a file llama.cpp cannot handle) becomes a clean error naming that model, the other models
 * and the next load are unaffected, and no runner outlives its model or its runtime.
 */
class RunnerIsolationTest {

    private static final Path STORIES = SharedModels.root().resolve("stories260K.gguf");

    @TempDir
    Path work;

    private RunnerRuntime runtime;

    @BeforeEach
    void start() throws Exception {
        runtime = RunnerRuntime.start(RunnerLaunch.outsideOsgi(NativeLibraries.llamaCpp(), "llama.cpp-b4916", work)
                .withJvmOptions(withTestHooks()));
    }

    @AfterEach
    void stop() {
        runtime.close();
    }

    private static List<String> withTestHooks() {
        List<String> o = new ArrayList<>(RunnerLaunch.DEFAULT_JVM_OPTIONS);
        o.add("-D" + RunnerMain.TEST_HOOKS + "=true");
        return o;
    }

    private NativeModel open() throws LlamaException {
        return runtime.open(STORIES, ModelParams.defaults(), exact());
    }

    private static ContextParams exact() {
        return ContextParams.defaults().withContext(256).withThreads(1, 1).withCache(CacheType.F32, CacheType.F32);
    }

    private static int[] greedy(NativeModel m, int n) throws LlamaException {
        int[] prompt = m.tokenize("Once upon a time", true, false);
        m.clearKvCache();
        m.decode(prompt, 0);
        int[] out = new int[n];
        try (TokenSampler s = m.newSampler(SamplerParams.greedyDecoding())) {
            for (int i = 0; i < n; i++) {
                out[i] = s.sample();
                m.decode(new int[] {out[i]}, prompt.length + i);
            }
        }
        return out;
    }

    @Test
    void theRunnerComputesExactlyWhatTheInProcessBindingComputes() throws Exception {
        try (LlamaLibrary inProcess = LlamaLibrary.load(NativeLibraries.llamaCpp(), "llama.cpp-b4916");
                NativeModel local = inProcess.runtime().open(STORIES, ModelParams.defaults(), exact());
                NativeModel remote = open()) {
            assertArrayEquals(greedy(local, 40), greedy(remote, 40));
            int[] prompt = local.tokenize("Once upon a time, there was a little girl", true, false);
            local.clearKvCache();
            remote.clearKvCache();
            float[][] a = local.decodeAll(prompt, 0);
            float[][] b = remote.decodeAll(prompt, 0);
            assertEquals(a.length, b.length);
            for (int i = 0; i < a.length; i++) {
                assertArrayEquals(a[i], b[i], 0f, "logits at position " + i);
            }
            assertArrayEquals(local.lastLogits(), remote.lastLogits(), 0f);
            assertEquals(local.description(), remote.description());
            assertEquals(local.metadata(), remote.metadata());
            for (int t = 0; t < local.nVocab(); t++) {
                assertEquals(local.isEog(t), remote.isEog(t), "isEog " + t);
                assertArrayEquals(local.tokenToPiece(t, true), remote.tokenToPiece(t, true), "piece " + t);
            }
        }
    }

    @Test
    void aRefusedRequestLeavesTheChannelInStep() throws Exception {
        try (NativeModel m = open()) {
            int[] expected = greedy(m, 10);
            assertThrows(LlamaException.class, () -> m.decode(new int[] {1, 99_999, 2}, 0));
            assertThrows(LlamaException.class, () -> m.tokenToPiece(-5, false));
            assertThrows(LlamaException.class, () -> m.loadLora(work.resolve("missing-lora.gguf")));
            assertArrayEquals(expected, greedy(m, 10));
        }
    }

    @Test
    void killingTheRunnerMidGenerationIsAnErrorForThatModelOnly() throws Exception {
        NativeModel victim = open();
        NativeModel bystander = open();
        int[] expected = greedy(bystander, 20);
        CountDownLatch generating = new CountDownLatch(5);
        CompletableFuture<Void> generation = CompletableFuture.runAsync(() -> {
            try {
                int[] prompt = victim.tokenize("Once upon a time", true, false);
                victim.decode(prompt, 0);
                try (TokenSampler s = victim.newSampler(SamplerParams.greedyDecoding())) {
                    for (int pos = prompt.length; pos < 10_000; pos++) {
                        int t = s.sample();
                        generating.countDown();
                        victim.decode(new int[] {t}, pos % 200 == 0 ? clear(victim) : pos % 200);
                    }
                }
            } catch (LlamaException e) {
                throw new RuntimeException(e);
            }
        });
        assertTrue(generating.await(30, TimeUnit.SECONDS));
        ProcessHandle runner = ((RemoteModel) victim).process();
        assertTrue(runner.destroyForcibly());

        Throwable failure = assertThrows(Exception.class, () -> generation.get(30, TimeUnit.SECONDS)).getCause()
                .getCause();
        assertTrue(failure instanceof RunnerStoppedException, String.valueOf(failure));
        String m = failure.getMessage();
        assertTrue(m.contains("stories260K.gguf") && m.contains("SIGKILL") && m.contains("stopped"), m);
        // Later calls say the same, without waiting for anything.
        assertEquals(m, assertThrows(RunnerStoppedException.class, () -> victim.tokenize("x", true, false))
                .getMessage());

        assertArrayEquals(expected, greedy(bystander, 20), "the other model is untouched");
        victim.close();
        try (NativeModel again = open()) {
            assertArrayEquals(expected, greedy(again, 20), "the next load works");
        }
        bystander.close();
    }

    /** Starts the sequence over inside the generation loop above, so it can run until killed. */
    private static int clear(NativeModel m) {
        try {
            m.clearKvCache();
        } catch (LlamaException e) {
            throw new RuntimeException(e);
        }
        return 0;
    }

    @Test
    void aNativeAbortIsAnErrorThatSaysSo() throws Exception {
        try (NativeModel m = open()) {
            RunnerStoppedException e = assertThrows(RunnerStoppedException.class, ((RemoteModel) m)::abortForTest);
            assertTrue(e.getMessage().contains("SIGABRT") && e.getMessage().contains("calling abort()")
                    && e.getMessage().contains("stories260K.gguf"), e.getMessage());
        }
        try (NativeModel m = open()) {
            assertEquals(20, greedy(m, 20).length);
        }
    }

    /**
     * A file the Java validator may let through but llama.cpp b4916 cannot load: two vocabulary
     * entries with the same text fail {@code GGML_ASSERT(id_to_token.size() == token_to_id.size())}
     * in its vocabulary loader, which aborts the process. Here it aborts the runner only.
     */
    @Test
    void aGgmlAssertWhileLoadingFailsTheLoadOnly(@TempDir Path dir) throws Exception {
        byte[] gguf = Files.readAllBytes(STORIES);
        byte[] from = lengthPrefixed("<0x01>");
        int at = indexOf(gguf, from);
        assertTrue(at > 0, "stories260K has the byte token <0x01>");
        byte[] to = "<0x00>".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(to, 0, gguf, at + 8, to.length);
        Path corrupt = dir.resolve("duplicate-token.gguf");
        Files.write(corrupt, gguf);

        LlamaException e = assertThrows(LlamaException.class,
                () -> runtime.open(corrupt, ModelParams.defaults(), exact()));
        assertTrue(e instanceof RunnerStoppedException, e.toString());
        assertTrue(e.getMessage().contains("duplicate-token.gguf") && e.getMessage().contains("GGML_ASSERT")
                && e.getMessage().contains("corrupt or not supported"), e.getMessage());
        assertTrue(e.getMessage().contains("stopped (SIGABRT, exit code 134): llama-vocab.cpp:"), e.getMessage());
        assertTrue(runtime.processes().isEmpty(), "the failed runner is gone");
        try (NativeModel m = open()) {
            assertEquals(20, greedy(m, 20).length);
        }
    }

    @Test
    void noRunnerOutlivesItsModelOrItsRuntime() throws Exception {
        NativeModel a = open();
        NativeModel b = open();
        ProcessHandle pa = ((RemoteModel) a).process();
        ProcessHandle pb = ((RemoteModel) b).process();
        assertTrue(pa.isAlive() && pb.isAlive());
        assertEquals(2, runtime.processes().size());
        a.close();
        assertFalse(pa.isAlive(), "closing a model ends its runner");
        assertThrows(ModelClosedException.class, () -> a.decode(new int[] {1}, 0));
        runtime.close();
        assertFalse(pb.isAlive(), "closing the runtime ends every runner");
        assertTrue(b.isClosed());
        assertTrue(ProcessHandle.current().children().noneMatch(p -> p.info().commandLine().orElse("")
                .contains(RunnerMain.class.getName())), "no runner left");
        try (var files = Files.list(work)) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().endsWith(".shm")), "shared files removed");
        }
    }

    @Test
    void closingFromAnotherThreadEndsACallInProgress() throws Exception {
        NativeModel m = open();
        int[] long_ = new int[200];
        java.util.Arrays.fill(long_, 403);
        CompletableFuture<Void> busy = CompletableFuture.runAsync(() -> {
            try {
                for (int i = 0; i < 1000; i++) {
                    m.clearKvCache();
                    m.decodeAll(long_, 0);
                }
            } catch (LlamaException e) {
                throw new RuntimeException(e);
            }
        });
        Thread.sleep(300);
        m.close();
        Throwable t = assertThrows(Exception.class, () -> busy.get(30, TimeUnit.SECONDS)).getCause().getCause();
        assertTrue(t instanceof ModelClosedException, String.valueOf(t));
    }

    /** Felix's storage is a relative path in the exported jar: the runner, started in its work folder, must still find its files. */
    @Test
    void relativePathsWork() throws Exception {
        Path cwd = Path.of("").toAbsolutePath();
        Path relativeWork = cwd.relativize(work.resolve("relative"));
        Path relativeLibrary = cwd.relativize(NativeLibraries.llamaCpp().toAbsolutePath());
        try (RunnerRuntime rt = RunnerRuntime.start(new RunnerLaunch(RunnerLaunch.currentJava(),
                cwd.relativize(RunnerLaunch.ownClasspath()), relativeLibrary, "llama.cpp-b4916", relativeWork,
                RunnerLaunch.DEFAULT_JVM_OPTIONS));
                NativeModel m = rt.open(cwd.relativize(STORIES.toAbsolutePath()), ModelParams.defaults(), exact())) {
            // Files named relative to the server's folder (a model, a converted LoRA in a bundle's data
            // area) are sent absolute, so the runner in its own folder opens the same file.
            assertEquals(10, greedy(m, 10).length);
        }
    }

    /** A runner whose server is gone (its stdin closes, as when the server is killed) ends on its own. */
    @Test
    void aRunnerWhoseServerIsGoneExits() throws Exception {
        Path shm = work.resolve("orphan.shm");
        Process p = new ProcessBuilder(RunnerLaunch.currentJava().toString(), "--enable-native-access=ALL-UNNAMED",
                "-cp", RunnerLaunch.ownClasspath().toString(), RunnerMain.class.getName(),
                NativeLibraries.llamaCpp().toString(), "llama.cpp-b4916", shm.toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            assertEquals(Wire.HELLO, new java.io.DataInputStream(p.getInputStream()).readInt(), "the runner is up");
            p.getOutputStream().close();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the runner exits when its stdin closes");
            assertEquals(0, p.exitValue());
        } finally {
            p.destroyForcibly();
        }
    }

    /**
     * The server keeps no native memory of its models: load/generate/close cycles through runners
     * leave its RSS and thread count flat (each runner's memory leaves with its process).
     */
    @Test
    void loadCloseCyclesLeaveTheServerFlat() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/self/status")), "needs /proc");
        cycles(3); // warm-up: JIT, the process reaper's thread
        long rss0 = status("VmRSS");
        long threads0 = status("Threads");
        cycles(8);
        long rss1 = status("VmRSS");
        long threads1 = status("Threads");
        System.getLogger(RunnerIsolationTest.class.getName()).log(System.Logger.Level.INFO,
                "8 runner load/generate/close cycles: server VmRSS " + rss0 + " kB -> " + rss1 + " kB, threads "
                        + threads0 + " -> " + threads1);
        assertTrue(rss1 - rss0 < 8 * 1024, "RSS grew by " + (rss1 - rss0) + " kB");
        assertTrue(threads1 <= threads0, "threads left behind: " + threads0 + " -> " + threads1);
        assertTrue(runtime.processes().isEmpty());
    }

    /** Load, generate and close {@code n} times, then let garbage and finished threads go. */
    private void cycles(int n) throws Exception {
        for (int i = 0; i < n; i++) {
            try (NativeModel m = open()) {
                greedy(m, 16);
            }
        }
        System.gc();
        Thread.sleep(500);
    }

    private static long status(String field) throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).replace("kB", "").trim());
            }
        }
        throw new IllegalStateException(field + " not in /proc/self/status");
    }

    private static byte[] lengthPrefixed(String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[8 + b.length];
        out[0] = (byte) b.length; // little-endian u64
        System.arraycopy(b, 0, out, 8, b.length);
        return out;
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
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
