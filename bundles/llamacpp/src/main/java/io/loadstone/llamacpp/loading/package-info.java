/**
 * What the GGUF loaders on this runtime share: which file(s) of a model source llama.cpp
 * reads ({@link io.loadstone.llamacpp.loading.GgufSelection}) and text-generation-webui's
 * llama.cpp options mapped to model and context parameters
 * ({@link io.loadstone.llamacpp.loading.LlamaCppOptions}), the KV-prefix cache
 * ({@link io.loadstone.llamacpp.loading.CachedSequence}) and LoRA adapters applied at run time
 * ({@link io.loadstone.llamacpp.loading.AppliedLoras}, converting PEFT folders with
 * {@link io.loadstone.llamacpp.loading.PeftLoraConverter}). Here rather than in one loader so
 * that each loader stays a bundle of its own that needs only the runtime.
 */
@Export
@Version("1.2.0")
package io.loadstone.llamacpp.loading;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
