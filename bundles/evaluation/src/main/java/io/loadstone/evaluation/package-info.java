/**
 * Perplexity evaluation, as in text-generation-webui's "Perplexity evaluation" (Training
 * tab): a {@link io.loadstone.evaluation.PerplexityEvaluator} service computes the perplexity
 * of a loaded model on a text file or pasted text, with any loader that exposes logits, and
 * keeps every result in {@code logs/evaluations.csv}.
 */
@Export
@Version("1.1.0")
package io.loadstone.evaluation;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
