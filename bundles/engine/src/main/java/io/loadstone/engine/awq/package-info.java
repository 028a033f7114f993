/**
 * AWQ linear layers (AutoAWQ {@code gemm} and {@code gemv} layouts, 4-bit). {@link io.loadstone.engine.awq.AwqFormat}
 * repacks them once at load into the engine's packed 4-bit layout, so they run on the same
 * kernels as GPTQ.
 */
@Export
@Version("1.0.0")
package io.loadstone.engine.awq;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
