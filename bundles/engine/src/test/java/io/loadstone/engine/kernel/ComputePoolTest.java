package io.loadstone.engine.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class ComputePoolTest {

    @Test
    void everyIndexRunsExactlyOnceOnSeveralThreads() {
        try (ComputePool pool = new ComputePool(3, "test")) {
            Set<String> threads = ConcurrentHashMap.newKeySet();
            for (int round = 0; round < 200; round++) {
                AtomicIntegerArray hits = new AtomicIntegerArray(1000);
                pool.parallelFor(1000, 10, 4, (from, to) -> {
                    assertEquals(0, from % 4, "range starts are aligned");
                    threads.add(Thread.currentThread().getName());
                    for (int i = from; i < to; i++) {
                        hits.incrementAndGet(i);
                    }
                    // Long enough that one thread cannot take every range before the others wake.
                    long until = System.nanoTime() + 20_000;
                    while (System.nanoTime() < until) {
                        Thread.onSpinWait();
                    }
                });
                for (int i = 0; i < 1000; i++) {
                    assertEquals(1, hits.get(i), "index " + i);
                }
            }
            assertTrue(threads.size() > 1, "work ran on " + threads);
        }
    }

    @Test
    void aFailureInOneRangeReachesTheCaller() {
        try (ComputePool pool = new ComputePool(2, "test")) {
            IllegalArgumentException boom = new IllegalArgumentException("boom");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> pool.parallelFor(100, 1, (from, to) -> {
                if (from <= 50 && 50 < to) {
                    throw boom;
                }
            }));
            assertSame(boom, e);
            // The pool still works afterwards.
            AtomicIntegerArray hits = new AtomicIntegerArray(100);
            pool.parallelFor(100, 1, (from, to) -> {
                for (int i = from; i < to; i++) {
                    hits.incrementAndGet(i);
                }
            });
            for (int i = 0; i < 100; i++) {
                assertEquals(1, hits.get(i));
            }
        }
    }

    @Test
    void loopsInsideLoopsAndFromSeveralThreadsComplete() throws Exception {
        try (ComputePool pool = new ComputePool(2, "test")) {
            AtomicIntegerArray hits = new AtomicIntegerArray(64 * 64);
            pool.parallelFor(64, 1, (a, b) -> {
                for (int i = a; i < b; i++) {
                    int row = i;
                    pool.parallelFor(64, 1, (c, d) -> {
                        for (int j = c; j < d; j++) {
                            hits.incrementAndGet(row * 64 + j);
                        }
                    });
                }
            });
            for (int i = 0; i < hits.length(); i++) {
                assertEquals(1, hits.get(i));
            }
            int callers = 4;
            AtomicIntegerArray sums = new AtomicIntegerArray(callers);
            CountDownLatch done = new CountDownLatch(callers);
            for (int c = 0; c < callers; c++) {
                int me = c;
                Thread.ofPlatform().start(() -> {
                    for (int r = 0; r < 100; r++) {
                        pool.parallelFor(500, 1, (from, to) -> sums.addAndGet(me, to - from));
                    }
                    done.countDown();
                });
            }
            assertTrue(done.await(30, java.util.concurrent.TimeUnit.SECONDS));
            for (int c = 0; c < callers; c++) {
                assertEquals(100 * 500, sums.get(c));
            }
        }
    }

    @Test
    void closeStopsTheThreadsAndRefusesNewLoops() throws Exception {
        ComputePool pool = new ComputePool(3, "closing-pool");
        pool.parallelFor(100, 1, (a, b) -> { });
        pool.close();
        assertTrue(pool.isClosed());
        Thread.sleep(50);
        assertFalse(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith("closing-pool") && t.isAlive()),
                "worker threads end on close");
        assertThrows(IllegalStateException.class, () -> pool.parallelFor(100, 1, (a, b) -> { }));
    }
}
