package io.loadstone.engine.tensor;

import io.loadstone.engine.kernel.Vectors;
import io.loadstone.engine.safetensors.TensorInfo;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Small tensors (norm weights, biases) are read once into float arrays. */
public final class Tensors {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Tensors() {
    }

    /** All elements as floats; the tensor must be F32, F16 or BF16 (checked by the caller). */
    public static float[] toFloats(TensorInfo t) {
        int n = Math.toIntExact(t.elements());
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = switch (t.dtype()) {
                case F32 -> t.data().get(F32, 4L * i);
                case F16 -> Float.float16ToFloat(t.data().get(U16, 2L * i));
                case BF16 -> Vectors.bf16ToFloat(t.data().get(U16, 2L * i));
                default -> throw new IllegalArgumentException(t + " is not a float tensor");
            };
        }
        return out;
    }
}
