package io.loadstone.api.loader;

/** Receives generated text as it is produced. */
@FunctionalInterface
public interface TokenSink {

    /**
     * @param tokenId the token just generated
     * @param text    its text; may be empty while a multi-byte character is incomplete
     * @return false to stop generating (Stop button, client gone)
     */
    boolean accept(int tokenId, String text);
}
