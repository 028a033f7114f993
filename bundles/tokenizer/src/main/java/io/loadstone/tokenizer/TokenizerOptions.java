package io.loadstone.tokenizer;

/**
 * How a tokenizer is opened.
 *
 * @param configBosEos  {@code true}: when {@code tokenizer_config.json} sets {@code add_bos_token}
 *                      (true or false), {@code encode(text, true)} adds BOS, and EOS when
 *                      {@code add_eos_token} is true, exactly as that file says, instead of running
 *                      {@code tokenizer.json}'s post-processor (transformers' Llama/Gemma fast
 *                      tokenizers do the same). Without that key, or with {@code false} here,
 *                      {@code tokenizer.json}'s post-processor alone decides.
 * @param maxFileBytes  the largest {@code tokenizer.json} accepted (it is read into memory whole)
 */
public record TokenizerOptions(boolean configBosEos, long maxFileBytes) {

    /** Config-driven BOS/EOS; tokenizer.json up to 512 MiB (the largest vocabularies are ~35 MB). */
    public static final TokenizerOptions DEFAULTS = new TokenizerOptions(true, 512L << 20);

    public TokenizerOptions {
        if (maxFileBytes <= 0 || maxFileBytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("maxFileBytes must be between 1 and " + (Integer.MAX_VALUE - 8)
                    + " bytes, not " + maxFileBytes);
        }
    }

    public TokenizerOptions withConfigBosEos(boolean value) {
        return new TokenizerOptions(value, maxFileBytes);
    }

    public TokenizerOptions withMaxFileBytes(long value) {
        return new TokenizerOptions(configBosEos, value);
    }
}
