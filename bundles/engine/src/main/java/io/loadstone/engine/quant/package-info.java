/**
 * Quantized checkpoints: {@link io.loadstone.engine.quant.QuantizationConfig} reads what a
 * quantizer wrote ({@code quantize_config.json}, {@code quant_config.json} or {@code config.json}
 * {@code quantization_config}), and {@link io.loadstone.engine.quant.QuantFormats} turns it into the
 * engine's {@link io.loadstone.engine.LinearFormat} for that method. {@code EngineModel.open} uses
 * both when the options name no linear format, so a loader only has to open the folder.
 */
@Export
@Version("1.0.0")
package io.loadstone.engine.quant;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
