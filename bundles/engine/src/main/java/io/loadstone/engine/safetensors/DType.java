package io.loadstone.engine.safetensors;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Element types of the safetensors format (the {@code Dtype} enum of the reference
 * implementation, huggingface/safetensors {@code tensor.rs}). The reader accepts all of them so
 * that quantized checkpoints (int32 packed weights, fp16 scales) can be read by other loaders;
 * what a model can compute with is decided by the model.
 */
public enum DType {
    BOOL(1), U8(1), I8(1), F8_E5M2(1), F8_E4M3(1), F8_E8M0(1),
    I16(2), U16(2), F16(2), BF16(2),
    I32(4), U32(4), F32(4),
    F64(8), I64(8), U64(8), C64(8);

    /** Sub-byte types of newer safetensors versions; recognised only to give a precise error. */
    private static final String SUB_BYTE = "F4, F6_E2M3, F6_E3M2";

    private final int size;

    DType(int size) {
        this.size = size;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    public static Optional<DType> of(String name) {
        for (DType t : values()) {
            if (t.name().equals(name)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** Whether {@code name} is a safetensors type this reader knows but cannot address per byte. */
    static boolean isSubByte(String name) {
        return Arrays.asList(SUB_BYTE.split(", ")).contains(name);
    }

    static String known() {
        return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
    }
}
