/**
 * EXL2, exllamav2's own quantized format: linear layers in groups of input rows of one bit width
 * each (2, 3, 4, 5, 6 or 8 bits, mixed per layer), 4-bit per-column scales relative to a per-group
 * maximum, and an input-row permutation. {@link io.loadstone.engine.exl2.Exl2Format} is the
 * {@link io.loadstone.engine.LinearFormat} a loader passes to the engine for a folder whose
 * {@code config.json} says {@code quantization_config.quant_method: "exl2"}. The weights stay
 * packed (memory-mapped from the file) and are multiplied with Vector API kernels.
 */
@Export
@Version("1.0.0")
package io.loadstone.engine.exl2;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
