package io.loadstone.engine.kernel;

import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector shapes and the type conversions every kernel shares. The float species is the CPU's
 * widest (16 lanes with AVX-512, 8 with AVX2); the 16-bit species has as many lanes, at half
 * the width, so one load of half-precision weights widens to exactly one float vector.
 */
public final class Vectors {

    public static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    public static final int LANES = F.length();
    public static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    public static final VectorSpecies<Short> H = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    /** Safetensors files are little-endian whatever the CPU. */
    public static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private Vectors() {
    }

    /**
     * IEEE half → float for a whole vector. The Vector API has no half-precision conversion, so
     * the bits are moved into float position and rescaled by 2^112 (the exponent bias
     * difference); that one multiply also turns half subnormals into the right normal floats.
     * Infinities and NaNs are not special-cased here (they would come out as large finite
     * values): trained weights never hold them, and the branch-free form is ~10% faster.
     */
    public static FloatVector halfToFloat(ShortVector h) {
        IntVector bits = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        IntVector magnitude = bits.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
        IntVector sign = bits.and(0x8000).lanewise(VectorOperators.LSHL, 16);
        return magnitude.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts().or(sign).reinterpretAsFloats();
    }

    /**
     * IEEE half → float including infinities and NaN, for values the engine wrote itself (the
     * F16 KV cache), where an overflowing activation must stay infinite rather than wrap.
     */
    public static FloatVector halfToFloatExact(ShortVector h) {
        IntVector bits = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        IntVector magnitude = bits.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
        IntVector sign = bits.and(0x8000).lanewise(VectorOperators.LSHL, 16);
        IntVector scaled = magnitude.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        IntVector special = magnitude.or(0x7f800000);
        return scaled.blend(special, magnitude.compare(VectorOperators.GE, 0x7c00 << 13)).or(sign).reinterpretAsFloats();
    }

    /** bfloat16 → float: the upper half of a float, exact for every value. */
    public static FloatVector bf16ToFloat(ShortVector h) {
        return ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** float → bfloat16 with round-to-nearest-even (torch's {@code .to(torch.bfloat16)}); NaN stays NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
