package io.loadstone.engine.exl2;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.engine.CheckpointTensor;
import io.loadstone.engine.LinearFormat;
import io.loadstone.engine.LinearWeights;
import java.util.Optional;
import java.util.function.Function;

/**
 * The EXL2 linear-layer format (exllamav2 {@code conversion/compile.py} output). A layer is EXL2
 * when {@code <prefix>.q_weight} exists; others (exllamav2 can leave a layer in fp16) are read by
 * the engine as plain {@code <prefix>.weight}. Every layer is validated when the model opens:
 * a corrupt one is refused with the tensor and the file named.
 */
public final class Exl2Format implements LinearFormat {

    /** {@code quantization_config.quant_method} of an EXL2 folder, as exllamav2 writes it. */
    public static final String QUANT_METHOD = "exl2";

    @Override
    public String name() {
        return QUANT_METHOD;
    }

    @Override
    public LinearWeights load(String prefix, int rows, int cols, Function<String, Optional<CheckpointTensor>> tensors)
            throws ModelLoadException {
        if (tensors.apply(prefix + ".q_weight").isEmpty()) {
            return null;
        }
        return Exl2Linear.read(prefix, rows, cols, tensors);
    }

    @Override
    public String toString() {
        return "EXL2";
    }
}
