package io.loadstone.gguf;

import java.util.Optional;

/**
 * The tensor element types of ggml as llama.cpp b4916 knows them, with their numeric ids as
 * stored in GGUF files and their block layout.
 *
 * <p>Quantized types store elements in blocks: {@link #blockSize()} elements take
 * {@link #typeSize()} bytes. Plain types have a block size of 1. Ids 4, 5 (Q4_2, Q4_3),
 * 31-33 and 36-38 (ARM repacked types) were removed from ggml and are not valid in files;
 * 39 (MXFP4) and later were added after b4916.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q8_1(9, 32, 36),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    Q8_K(15, 256, 292),
    IQ2_XXS(16, 256, 66),
    IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98),
    IQ1_S(19, 256, 50),
    IQ4_NL(20, 32, 18),
    IQ3_S(21, 256, 110),
    IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    IQ1_M(29, 256, 56),
    BF16(30, 1, 2),
    TQ1_0(34, 256, 54),
    TQ2_0(35, 256, 66);

    // Ids are small and dense; a lookup table avoids a linear search per tensor on large files.
    private static final GgmlType[] BY_ID = new GgmlType[64];

    static {
        for (GgmlType t : values()) {
            BY_ID[t.id] = t;
        }
    }

    private final int id;
    private final int blockSize;
    private final int typeSize;

    GgmlType(int id, int blockSize, int typeSize) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
    }

    /** The numeric id stored in GGUF tensor infos ({@code enum ggml_type}). */
    public int id() {
        return id;
    }

    /** Elements per block: 1 for plain types, 32 or 256 for quantized ones. */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes per block. */
    public int typeSize() {
        return typeSize;
    }

    /** Whether elements are stored in multi-element blocks. */
    public boolean isQuantized() {
        return blockSize > 1;
    }

    /** The type with this id, or empty for ids llama.cpp b4916 does not know. */
    public static Optional<GgmlType> byId(int id) {
        return id >= 0 && id < BY_ID.length ? Optional.ofNullable(BY_ID[id]) : Optional.empty();
    }

    /**
     * Bytes taken by {@code elements} elements of this type.
     *
     * @throws IllegalArgumentException if {@code elements} is negative or not a multiple of
     *         the block size
     * @throws ArithmeticException if the size does not fit in a long
     */
    public long byteSize(long elements) {
        if (elements < 0) {
            throw new IllegalArgumentException("negative element count " + elements);
        }
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(name() + " stores elements in blocks of " + blockSize
                    + "; " + elements + " is not a multiple of " + blockSize);
        }
        return Math.multiplyExact(elements / blockSize, (long) typeSize);
    }
}
