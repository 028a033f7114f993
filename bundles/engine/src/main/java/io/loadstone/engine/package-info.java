/**
 * The Loadstone inference engine: runs Llama-family transformers (llama, mistral, qwen2) from
 * Hugging Face checkpoint folders in pure Java.
 *
 * <p>{@link io.loadstone.engine.EngineModel#open EngineModel.open} maps the safetensors weights
 * (no copy, stored types kept), validates them against {@code config.json} and owns the compute
 * threads; an {@link io.loadstone.engine.EngineSession} holds one KV cache and turns token ids
 * into logits. Tokenization is not part of the engine.
 *
 * <p>Loader bundles (Transformers, later GPTQ/AWQ/EXL2) are the consumers; they import
 * {@code [1.0,2)}.
 */
@Export
@Version("1.3.0")
package io.loadstone.engine;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
