/**
 * Hugging Face-style logits processing and token sampling, shared by every loader that
 * produces logits (the Java engine loaders, llamacpp_HF).
 *
 * <p>The chain and its order follow transformers' {@code generate()} (processors, then
 * warpers) as patched by text-generation-webui's {@code sampler_hijack}: classifier-free
 * guidance, repetition/presence/frequency penalty over a range, no-repeat n-gram, token
 * suppression, then temperature, top-k, top-p, typical-p, epsilon and eta cutoff, then
 * tail-free, top-a and min-p (or mirostat v2 instead of every warper but temperature);
 * {@code temperature_last} moves temperature to the end. Greedy decoding runs the
 * processors only, as transformers does.
 *
 * <p>Start with {@link io.loadstone.sampling.SamplingSession#start}: one session per
 * generation, fed one logits vector per step.
 */
@Export
@Version("1.0.0")
package io.loadstone.sampling;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
