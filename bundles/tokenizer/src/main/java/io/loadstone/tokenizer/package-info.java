/**
 * Hugging Face tokenizers ({@code tokenizer.json}) for Loadstone.
 *
 * <p>A {@link io.loadstone.tokenizer.TokenizerFactory} service is registered when the native
 * fragment for this platform is attached; it opens a model folder's tokenizer as an
 * {@link io.loadstone.tokenizer.HfTokenizer}. Decoding for streaming output goes through a
 * {@link io.loadstone.tokenizer.StreamDecoder}, which only ever hands out complete text.
 */
@Export
@Version("1.0.0")
package io.loadstone.tokenizer;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
