package io.loadstone.llamacpp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** A second llama_context on one loaded model: own KV cache and logits, same weights, freed with the model. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SecondaryContextTest {

    private AutoCloseable library;
    LlamaRuntime runtime;

    @BeforeAll
    void load() throws Exception {
        library = start();
    }

    @AfterAll
    void unload() throws Exception {
        if (library != null) {
            library.close();
        }
    }

    /** Sets {@link #runtime} and returns what closes it; here the binding in this process. */
    AutoCloseable start() throws Exception {
        LlamaLibrary lib = LlamaLibrary.load(TestFiles.library(), "llama.cpp-b4916");
        runtime = lib.runtime();
        return lib;
    }

    private NativeModel open() throws LlamaException {
        return runtime.open(TestFiles.stories(), ModelParams.defaults(), ContextParams.defaults().withContext(128)
                .withThreads(1, 1).withCache(CacheType.F32, CacheType.F32));
    }

    @Test
    void secondContextHasItsOwnCacheAndTheSameWeights() throws Exception {
        try (NativeModel m = open()) {
            int[] a = m.tokenize("Once upon a time", true, false);
            int[] b = m.tokenize("The cat sat on the mat", true, false);
            m.decode(a, 0);
            float[] mainA = m.lastLogits();
            try (SecondaryContext s = m.newContext()) {
                assertEquals(m.nCtx(), s.nCtx());
                assertEquals(m.nBatch(), s.nBatch());
                assertThrows(LlamaException.class, s::lastLogits, "a fresh context has no logits");
                s.decode(b, 0);
                float[] secondB = s.lastLogits();
                // The primary context's cache and logits are untouched by the second one.
                assertArrayEquals(mainA, m.lastLogits());
                m.decode(new int[] {b[1]}, a.length);
                // Same weights: evaluating the same tokens in either context gives the same logits.
                s.clearKvCache();
                float[][] all = s.decodeAll(a, 0);
                double d = maxAbsDiff(all[a.length - 1], mainA);
                System.getLogger(getClass().getName()).log(System.Logger.Level.INFO,
                        "same tokens in the second context: max |delta| " + d);
                assertTrue(d < 1e-5, "same logits in both contexts: " + d);
                m.clearKvCache();
                m.decode(b, 0);
                assertTrue(maxAbsDiff(m.lastLogits(), secondB) < 1e-5);
                // Prefix removal works per context too.
                assertTrue(s.removeFromKvCache(1, -1));
                s.decode(new int[] {a[1]}, 1);
                assertEquals(512, s.lastLogits().length);
                s.clearKvCache();
                assertThrows(LlamaException.class, s::lastLogits);
            }
        }
    }

    @Test
    void contextsCloseOnTheirOwnAndWithTheModel() throws Exception {
        NativeModel m = open();
        SecondaryContext first = m.newContext();
        SecondaryContext second = m.newContext();
        first.close();
        first.close();
        assertTrue(first.isClosed());
        assertThrows(ModelClosedException.class, () -> first.decode(new int[] {1}, 0));
        second.decode(new int[] {1, 403}, 0);
        m.decode(new int[] {1}, 0);
        assertFalse(second.isClosed());
        m.close();
        assertTrue(second.isClosed(), "closing the model frees its contexts");
        assertThrows(ModelClosedException.class, () -> second.decode(new int[] {1}, 0));
        second.close();
    }

    private static double maxAbsDiff(float[] x, float[] y) {
        double d = 0;
        for (int i = 0; i < x.length; i++) {
            d = Math.max(d, Math.abs((double) x[i] - y[i]));
        }
        return d;
    }
}
