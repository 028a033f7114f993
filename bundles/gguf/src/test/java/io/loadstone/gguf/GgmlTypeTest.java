package io.loadstone.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class GgmlTypeTest {

    /**
     * Bits per weight as llama.cpp documents them (quantize --help, ggml-common.h comments):
     * an independent check of every block size / type size pair.
     */
    @Test
    void bitsPerWeightMatchLlamaCpp() {
        Map<GgmlType, Double> bpw = Map.ofEntries(
                Map.entry(GgmlType.F32, 32.0), Map.entry(GgmlType.F16, 16.0), Map.entry(GgmlType.BF16, 16.0),
                Map.entry(GgmlType.Q4_0, 4.5), Map.entry(GgmlType.Q4_1, 5.0), Map.entry(GgmlType.Q5_0, 5.5),
                Map.entry(GgmlType.Q5_1, 6.0), Map.entry(GgmlType.Q8_0, 8.5), Map.entry(GgmlType.Q8_1, 9.0),
                Map.entry(GgmlType.Q2_K, 2.625), Map.entry(GgmlType.Q3_K, 3.4375), Map.entry(GgmlType.Q4_K, 4.5),
                Map.entry(GgmlType.Q5_K, 5.5), Map.entry(GgmlType.Q6_K, 6.5625), Map.entry(GgmlType.Q8_K, 9.125),
                Map.entry(GgmlType.IQ2_XXS, 2.0625), Map.entry(GgmlType.IQ2_XS, 2.3125),
                Map.entry(GgmlType.IQ3_XXS, 3.0625), Map.entry(GgmlType.IQ1_S, 1.5625),
                Map.entry(GgmlType.IQ4_NL, 4.5), Map.entry(GgmlType.IQ3_S, 3.4375), Map.entry(GgmlType.IQ2_S, 2.5625),
                Map.entry(GgmlType.IQ4_XS, 4.25), Map.entry(GgmlType.I8, 8.0), Map.entry(GgmlType.I16, 16.0),
                Map.entry(GgmlType.I32, 32.0), Map.entry(GgmlType.I64, 64.0), Map.entry(GgmlType.F64, 64.0),
                Map.entry(GgmlType.IQ1_M, 1.75), Map.entry(GgmlType.TQ1_0, 1.6875), Map.entry(GgmlType.TQ2_0, 2.0625));
        assertEquals(GgmlType.values().length, bpw.size(), "every type is listed");
        for (GgmlType t : GgmlType.values()) {
            assertEquals(bpw.get(t), t.typeSize() * 8.0 / t.blockSize(), t.name());
        }
    }

    @Test
    void idsAreUniqueAndLookedUp() {
        Set<Integer> ids = new HashSet<>();
        for (GgmlType t : GgmlType.values()) {
            assertTrue(ids.add(t.id()), "duplicate id " + t.id());
            assertEquals(t, GgmlType.byId(t.id()).orElseThrow());
            assertEquals(t.blockSize() > 1, t.isQuantized());
        }
        assertEquals(31, ids.size());
        for (int removed : new int[] {4, 5, 31, 32, 33, 36, 37, 38, 39, -1, 64, Integer.MAX_VALUE}) {
            assertFalse(GgmlType.byId(removed).isPresent(), "id " + removed);
        }
        assertEquals(GgmlType.BF16, GgmlType.byId(30).orElseThrow());
        assertEquals(GgmlType.TQ2_0, GgmlType.byId(35).orElseThrow());
    }

    @Test
    void byteSizeRejectsPartialBlocks() {
        assertEquals(18L * 4, GgmlType.Q4_0.byteSize(128));
        assertEquals(210, GgmlType.Q6_K.byteSize(256));
        assertEquals(12, GgmlType.F32.byteSize(3));
        assertEquals(0, GgmlType.Q8_0.byteSize(0));
        assertThrows(IllegalArgumentException.class, () -> GgmlType.Q4_0.byteSize(33));
        assertThrows(IllegalArgumentException.class, () -> GgmlType.Q4_K.byteSize(128));
        assertThrows(IllegalArgumentException.class, () -> GgmlType.F16.byteSize(-2));
        assertThrows(ArithmeticException.class, () -> GgmlType.F64.byteSize(Long.MAX_VALUE / 2));
    }

    @Test
    void valueTypeIds() {
        for (GgufValueType t : GgufValueType.values()) {
            assertEquals(t, GgufValueType.byId(t.id()).orElseThrow());
        }
        assertEquals(GgufValueType.FLOAT64, GgufValueType.byId(12).orElseThrow());
        assertTrue(GgufValueType.byId(13).isEmpty());
        assertTrue(GgufValueType.byId(-1).isEmpty());
    }
}
