package io.loadstone.engine.quant;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.engine.LinearFormat;
import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.awq.AwqFormat;
import io.loadstone.engine.exl2.Exl2Format;
import io.loadstone.engine.gptq.GptqFormat;

/**
 * The one place that maps a {@code quant_method} to the engine's {@link LinearFormat} for it.
 * Adding a method is one {@code case} line here.
 */
public final class QuantFormats {

    private QuantFormats() {
    }

    /**
     * The linear format that runs {@code config}'s checkpoint.
     *
     * @throws ModelFileException the method, or this configuration of it, is not one the engine
     *                            runs (the message names the file, the field and what is supported)
     */
    public static LinearFormat of(QuantizationConfig config) throws ModelLoadException {
        switch (config.method()) {
            case "gptq" -> {
                return GptqFormat.of(config);
            }
            case "awq" -> {
                return AwqFormat.of(config);
            }
            case Exl2Format.QUANT_METHOD -> {
                return new Exl2Format();
            }
            default -> {
            }
        }
        throw new ModelFileException(config.source(), "quant_method '" + config.method()
                + "' is not a format the Java engine runs (it runs: " + SUPPORTED + ")",
                "Use a loader for that format, or a checkpoint quantized with one of: " + SUPPORTED + ".");
    }

    /** The methods {@link #of} accepts, for messages. */
    private static final String SUPPORTED = "gptq, awq, exl2";
}
