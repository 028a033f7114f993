package io.loadstone.engine.kernel;

import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
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
    /** One byte per float lane; null where vectors are too narrow for such a shape (128-bit). */
    public static final VectorSpecies<Byte> B = F.vectorBitSize() >= 256
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4)) : null;
    public static final VectorSpecies<Short> H = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    /** Safetensors files are little-endian whatever the CPU. */
    public static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    // Lane rotations by 8, 4, 2 and 1 for sum(). Separate constants, not an array: C2 only
    // intrinsifies rearrange() when the shuffle is a compile-time constant; an array element is
    // not, and the fallback allocates (measured: a batch kernel 10x slower when that happened).
    private static final VectorShuffle<Float> ROT8 = VectorShuffle.iota(F, 8, 1, true);
    private static final VectorShuffle<Float> ROT4 = VectorShuffle.iota(F, 4, 1, true);
    private static final VectorShuffle<Float> ROT2 = VectorShuffle.iota(F, 2, 1, true);
    private static final VectorShuffle<Float> ROT1 = VectorShuffle.iota(F, 1, 1, true);

    private Vectors() {
    }

    /**
     * Sum of the lanes in a fixed tree order. {@code reduceLanes(ADD)} may add in a different
     * order when the JIT has compiled it than when it has not, so the same input could give
     * logits that differ in the last bit between the first and the hundredth call; this fold uses
     * only exact lane moves and IEEE adds, the same in every tier.
     */
    public static float sum(FloatVector v) {
        if (LANES >= 16) {
            v = v.add(v.rearrange(ROT8));
        }
        if (LANES >= 8) {
            v = v.add(v.rearrange(ROT4));
        }
        if (LANES >= 4) {
            v = v.add(v.rearrange(ROT2));
        }
        v = v.add(v.rearrange(ROT1));
        return v.lane(0);
    }

    /**
     * e^x for every lane, from IEEE operations only (range reduction x = k·ln2 + r, degree-7
     * polynomial on |r| ≤ ln2/2, scaling by 2^k through the exponent bits): within 2 ulp of
     * Math.exp and, unlike {@code lanewise(EXP)}, identical whether compiled or interpreted.
     * Lanes below -87 give 0 (softmax and SiLU only need that range).
     */
    public static FloatVector exp(FloatVector x) {
        FloatVector cx = x.max(-87.3f).min(88.3f);
        FloatVector k = cx.mul(1.4426950408889634f).add(12582912f).sub(12582912f);
        FloatVector r = k.fma(FloatVector.broadcast(F, -0.693145751953125f), cx).add(k.mul(-1.428606765330187e-06f));
        FloatVector p = r.mul(1f / 5040).add(1f / 720);
        p = p.fma(r, FloatVector.broadcast(F, 1f / 120));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 24));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 6));
        p = p.fma(r, FloatVector.broadcast(F, 0.5f));
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        IntVector e = ((IntVector) k.convertShape(VectorOperators.F2I, I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        FloatVector scaled = p.mul(e.reinterpretAsFloats());
        return scaled.blend(0f, x.compare(VectorOperators.LT, -87.3f));
    }

    /**
     * IEEE half → float for a whole vector. The Vector API has no half-precision conversion, so
     * the bits are moved into float position and rescaled by 2^112 (the exponent bias
     * difference); that one multiply also turns half subnormals into the right normal floats.
     * Infinities and NaNs are not special-cased here (they would come out as large finite
     * values): trained weights never hold them, and the branch-free form is ~10% faster.
     */
    public static FloatVector halfToFloat(ShortVector h) {
        // Half bits to the top of an int, then an arithmetic shift by 3: the sign lands on bit 31
        // (and copies of it on 30..28, masked off), exponent and mantissa on 27..13, where a float
        // keeps them. Five operations where separate sign and magnitude paths took seven: F16
        // decode is bound by these operations once memory is fast (measured on the 8-layer bench
        // model: 42.9 -> 47.0 tok/s while the BF16 copy ran at 57). The multiply keeps the sign.
        IntVector bits = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16)
                .lanewise(VectorOperators.ASHR, 3).and(0x8FFFE000);
        return bits.reinterpretAsFloats().mul(0x1p112f);
    }

    /**
     * Half bits placed where a float keeps sign, exponent and mantissa, without the rescaling:
     * the value is the half's times 2^-112. For dot products, which multiply their sum by
     * 2^112 once instead of every weight (see {@link MatVec#dotF16}).
     */
    public static FloatVector halfToFloatScaledDown(ShortVector h) {
        return ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16)
                .lanewise(VectorOperators.ASHR, 3).and(0x8FFFE000).reinterpretAsFloats();
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
