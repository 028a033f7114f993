package io.loadstone.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What the 8-bit (FP8 E5M2) KV cache of {@code cache_8bit} costs in accuracy on a real model:
 * stories260K-hf-pad192 against transformers (no cache, fp32), every position of the three
 * reference prompts fed one token at a time (so each reads all earlier ones from the cache), each
 * prompt then continued greedily for 30 tokens.
 *
 * <p>Measured here (2026-12-08), max |Δlogit| with logits up to |20|: F32 cache 1.8e-5, F16
 * 0.017, FP8 3.3; greedy text identical for all prompts with F32 and F16, with FP8 the worst
 * prompt keeps its first 3 tokens. Two mantissa bits are coarse for this model (head_dim 8, so
 * a score is a sum of only 8 rounded products); exllamav2 keeps the same bits (it even truncates
 * where this rounds). The bound keeps 1.5× margin.
 */
class Fp8CacheDriftTest {

    private static final System.Logger LOG = System.getLogger(Fp8CacheDriftTest.class.getName());

    @Test
    void eightBitCacheDriftIsMeasuredAndBounded() throws Exception {
        Path folder = TestModels.model("stories260K-hf-pad192");
        Map<String, Object> ref = TestModels.json(folder.resolve("reference.json"));
        float[] drift = new float[KvCacheType.values().length];
        int[] greedy = {30, 30, 30};
        for (KvCacheType kv : KvCacheType.values()) {
            try (EngineModel m = EngineModel.open(folder, EngineOptions.builder().threads(2).kvCache(kv).build());
                    EngineSession s = m.newSession()) {
                for (Object o : (List<?>) ref.get("prompts")) {
                    Map<?, ?> p = (Map<?, ?>) o;
                    int[] input = TestModels.ints(p.get("input_ids"));
                    List<?> all = (List<?>) p.get("all_logits");
                    s.reset();
                    // One token at a time, so that every position reads all earlier ones from the cache.
                    for (int i = 0; i < input.length; i++) {
                        float[] logits = s.forward(new int[] {input[i]});
                        drift[kv.ordinal()] = Math.max(drift[kv.ordinal()], TestModels.maxAbsDiff(logits, TestModels.floats(all.get(i))));
                    }
                    s.reset();
                    int[] want = TestModels.ints(p.get("greedy_ids"));
                    int[] got = TestModels.greedy(s, input, want.length);
                    int same = 0;
                    while (same < want.length && got[same] == want[same]) {
                        same++;
                    }
                    greedy[kv.ordinal()] = Math.min(greedy[kv.ordinal()], same);
                    if (kv != KvCacheType.FP8) {
                        assertArrayEquals(want, got, kv + " cache: greedy continuation of " + p.get("prompt"));
                    }
                }
            }
        }
        LOG.log(System.Logger.Level.INFO, String.format("KV cache drift vs transformers, max |Δlogit|: F32 %.2g, F16 %.2g, FP8 %.2g;"
                + " greedy tokens equal (worst prompt): %d, %d, %d of 30", drift[0], drift[1], drift[2], greedy[0], greedy[1], greedy[2]));
        assertTrue(drift[KvCacheType.FP8.ordinal()] <= 5, "FP8 cache drift " + drift[KvCacheType.FP8.ordinal()]);
        assertTrue(drift[KvCacheType.FP8.ordinal()] > drift[KvCacheType.F16.ordinal()], "FP8 must round coarser than F16");
    }
}
