/**
 * Hugging Face-style logits processing and token sampling, shared by every loader that
 * produces logits (the Java engine loaders, llamacpp_HF).
 *
 * <p>The chain and its order follow transformers' {@code generate()} (processors, then
 * warpers) as patched by text-generation-webui's {@code sampler_hijack}: classifier-free
 * guidance, repetition/presence/frequency penalty over a range, no-repeat n-gram, token
 * suppression and any processors a loader adds; then, when sampling, temperature, top-k,
 * top-p, typical-p, epsilon and eta cutoff, tail-free, top-a and min-p (or mirostat instead
 * of every warper but temperature), and a draw from the softmax. {@code temperature_last}
 * moves temperature to the end. Greedy decoding ({@code do_sample=false} or temperature 0)
 * runs the processors only and takes the argmax, as transformers does.
 *
 * <p>Start with {@link io.loadstone.sampling.SamplingSession#start}: one session per
 * generation, fed one logits vector per step. A loader declares
 * {@link io.loadstone.sampling.SamplerSettings#supportedParameters()} in its
 * {@code Capabilities.samplers()}.
 */
@Export
@Version("1.2.0")
package io.loadstone.sampling;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
