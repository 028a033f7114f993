/**
 * GPTQ linear layers (AutoGPTQ, GPTQModel, GPTQ-for-LLaMa, exllama's GPTQ path): 2, 3, 4 and
 * 8 bits, any group size, act-order, v1 and v2 zero points. {@link io.loadstone.engine.gptq.GptqFormat}
 * is the {@link io.loadstone.engine.LinearFormat}; the weights stay packed
 * ({@code io.loadstone.engine.tensor.PackedIntMatrix}).
 */
@Export
@Version("1.0.0")
package io.loadstone.engine.gptq;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
