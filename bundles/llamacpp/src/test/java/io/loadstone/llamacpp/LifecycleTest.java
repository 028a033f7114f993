package io.loadstone.llamacpp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;

/** Native memory and threads are given back; closing from another thread is safe. */
class LifecycleTest {

    private static final System.Logger LOG = System.getLogger(LifecycleTest.class.getName());

    /** Bound on RSS growth over 20 load/generate/close cycles after warm-up. */
    private static final long RSS_BOUND_KB = 8 * 1024;

    private static long status(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).replace("kB", "").trim());
            }
        }
        throw new IllegalStateException(field + " not in /proc/self/status");
    }

    private static void cycle(LlamaRuntime rt) throws LlamaException {
        try (NativeModel m = rt.open(TestFiles.stories(), ModelParams.defaults(),
                ContextParams.defaults().withContext(2048).withThreads(2, 2).withCache(CacheType.F32, CacheType.F32));
                TokenSampler s = m.newSampler(SamplerParams.greedyDecoding())) {
            int[] prompt = m.tokenize("Once upon a time", true, false);
            m.decode(prompt, 0);
            for (int i = 0; i < 16; i++) {
                m.decode(new int[] {s.sample()}, prompt.length + i);
            }
        }
    }

    /**
     * Collects Java garbage and asks glibc to give freed pages back (malloc_trim), so that
     * RSS shows live memory rather than what the allocator keeps for reuse: without the
     * trim, RSS wanders by ~10 MB with no leak (glibc arenas), which hides real leaks of
     * that size.
     */
    private static void settle() throws Throwable {
        System.gc();
        Thread.sleep(200);
        Linker linker = Linker.nativeLinker();
        var trim = linker.defaultLookup().find("malloc_trim");
        if (trim.isPresent()) {
            int released = (int) linker.downcallHandle(trim.get(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG)).invokeExact(0L);
        }
    }

    @Test
    void twentyLoadCloseCyclesKeepMemoryAndThreadsFlat() throws Throwable {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/self/status")),
                "needs /proc (Linux)");
        try (LlamaLibrary lib = LlamaLibrary.load(TestFiles.library(), "llama.cpp-b4916")) {
            LlamaRuntime rt = lib.runtime();
            // Warm-up: JIT, glibc arenas, libgomp's thread pool.
            for (int i = 0; i < 10; i++) {
                cycle(rt);
            }
            settle();
            long rss0 = status("VmRSS");
            long threads0 = status("Threads");
            for (int i = 0; i < 20; i++) {
                cycle(rt);
            }
            settle();
            long rss1 = status("VmRSS");
            long threads1 = status("Threads");
            LOG.log(System.Logger.Level.INFO, "20 load/generate/close cycles: VmRSS " + rss0 + " kB -> " + rss1
                    + " kB (" + (rss1 - rss0) + " kB), threads " + threads0 + " -> " + threads1);
            assertTrue(rss1 - rss0 < RSS_BOUND_KB, "RSS grew by " + (rss1 - rss0) + " kB over 20 cycles");
            assertEquals(threads0, threads1, "threads left behind");
        }
    }

    @Test
    void closeFromAnotherThreadEndsAGenerationCleanly() throws Exception {
        try (LlamaLibrary lib = LlamaLibrary.load(TestFiles.library(), "llama.cpp-b4916")) {
            NativeModel m = lib.runtime().open(TestFiles.stories(), ModelParams.defaults(),
                    ContextParams.defaults().withContext(2048));
            TokenSampler s = m.newSampler(SamplerParams.random(1));
            AtomicInteger generated = new AtomicInteger();
            AtomicReference<Throwable> ended = new AtomicReference<>();
            CountDownLatch running = new CountDownLatch(1);
            Thread gen = new Thread(() -> {
                try {
                    int pos = 0;
                    while (true) {
                        m.clearKvCache();
                        int[] prompt = m.tokenize("Once upon a time", true, false);
                        m.decode(prompt, 0);
                        pos = prompt.length;
                        for (int i = 0; i < 1000; i++) {
                            int t = s.sample();
                            m.decode(new int[] {t}, pos++);
                            if (generated.incrementAndGet() == 50) {
                                running.countDown();
                            }
                        }
                    }
                } catch (Throwable t) {
                    ended.set(t);
                }
            }, "generation");
            gen.start();
            assertTrue(running.await(30, TimeUnit.SECONDS), "generation did not start");
            m.close();
            gen.join(10_000);
            assertNotNull(ended.get(), "generation did not end");
            assertInstanceOf(ModelClosedException.class, ended.get());
            assertTrue(m.isClosed());
            assertThrows(ModelClosedException.class, s::sample);
            LOG.log(System.Logger.Level.INFO, "closed after " + generated.get() + " generated tokens");
        }
    }

    @Test
    void closingTheLibraryClosesItsModels() throws Exception {
        LlamaLibrary lib = LlamaLibrary.load(TestFiles.library(), "llama.cpp-b4916");
        NativeModel m = lib.runtime().open(TestFiles.stories(), ModelParams.defaults(), ContextParams.defaults());
        lib.close();
        lib.close();
        assertTrue(m.isClosed());
        assertThrows(IllegalStateException.class,
                () -> lib.runtime().open(TestFiles.stories(), ModelParams.defaults(), ContextParams.defaults()));
    }
}
