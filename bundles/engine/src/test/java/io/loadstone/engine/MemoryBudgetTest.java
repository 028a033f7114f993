package io.loadstone.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The memory budget (text-generation-webui's cpu-memory) on the real stories260K model (5 layers,
 * 7 linear matrices each): matrices are placed in layer order until the budget is spent, the rest
 * stay mapped in their stored type. Logits prove which is which: a matrix left mapped is not
 * quantized, so an all-mapped int8 load computes exactly what the F32 model computes.
 */
class MemoryBudgetTest {

    private static final int[] TOKENS = {1, 403, 407, 261, 378, 447, 63, 6, 4, 341, 352};

    private static float[][] run(EngineOptions o, WeightPlacement[] placement) throws Exception {
        try (EngineModel m = EngineModel.open(TestModels.model("stories260K-hf"), o); EngineSession s = m.newSession()) {
            placement[0] = m.placement();
            return s.forwardAll(TOKENS);
        }
    }

    private static EngineOptions.Builder base() {
        return EngineOptions.builder().threads(2);
    }

    @Test
    void withoutABudgetEveryMatrixIsPlacedAsAsked() throws Exception {
        WeightPlacement[] p = new WeightPlacement[1];
        run(base().quantization(WeightQuantization.INT8).build(), p);
        assertEquals(0, p[0].budgetBytes());
        assertEquals(35, p[0].resident());
        assertEquals(0, p[0].mapped());
        assertEquals("", p[0].firstMapped());
    }

    @Test
    void matricesBeyondTheBudgetStayMappedAndUnquantized() throws Exception {
        WeightPlacement[] p = new WeightPlacement[1];
        float[][] f32 = run(base().build(), p);
        float[][] int8 = run(base().quantization(WeightQuantization.INT8).build(), p);
        float[][] allMapped = run(base().quantization(WeightQuantization.INT8).memoryBudget(1).build(), p);
        assertEquals(0, p[0].resident());
        assertEquals(35, p[0].mapped());
        assertEquals("model.layers.0.self_attn.q_proj.weight", p[0].firstMapped());
        for (int t = 0; t < TOKENS.length; t++) {
            assertArrayEquals(f32[t], allMapped[t], "nothing fits: every matrix is used as stored (F32)");
        }
        float[][] allFit = run(base().quantization(WeightQuantization.INT8).memoryBudget(1L << 30).build(), p);
        assertEquals(35, p[0].resident());
        assertEquals(0, p[0].mapped());
        for (int t = 0; t < TOKENS.length; t++) {
            assertArrayEquals(int8[t], allFit[t], "everything fits: the same as an unlimited int8 load");
        }
        float[][] part = run(base().quantization(WeightQuantization.INT8).memoryBudget(p[0].residentBytes() / 2).build(), p);
        assertTrue(p[0].resident() > 0 && p[0].mapped() > 0, p[0].describe());
        assertEquals(35, p[0].resident() + p[0].mapped());
        assertTrue(p[0].residentBytes() <= p[0].budgetBytes());
        assertTrue(p[0].firstMapped().startsWith("model.layers."), p[0].firstMapped());
        assertTrue(p[0].describe().contains("stay memory-mapped from disk"), p[0].describe());
        boolean differsFromBoth = false;
        for (int t = 0; t < TOKENS.length; t++) {
            for (int v = 0; v < part[t].length; v++) {
                if (part[t][v] != int8[t][v] && part[t][v] != f32[t][v]) {
                    differsFromBoth = true;
                }
            }
        }
        assertTrue(differsFromBoth, "half int8, half F32 is neither model");
    }

    @Test
    void anUnquantizedModelWithinItsBudgetIsReadUpFrontAndComputesTheSame() throws Exception {
        WeightPlacement[] p = new WeightPlacement[1];
        float[][] plain = run(base().build(), p);
        float[][] budgeted = run(base().memoryBudget(1L << 30).build(), p);
        assertEquals(35, p[0].resident());
        assertFalse(p[0].describe().contains("stay memory-mapped"), p[0].describe());
        for (int t = 0; t < TOKENS.length; t++) {
            assertArrayEquals(plain[t], budgeted[t]);
        }
    }

    @Test
    void aNegativeBudgetIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> EngineOptions.builder().memoryBudget(-1));
    }
}
