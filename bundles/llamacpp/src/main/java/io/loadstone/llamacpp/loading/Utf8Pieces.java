package io.loadstone.llamacpp.loading;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Joins the byte pieces of generated tokens into text. Byte-level vocabularies split one
 * character over several tokens (an emoji is often 4 byte tokens), so only complete UTF-8
 * sequences are released; the incomplete tail waits for the next piece. Bytes that can never
 * become a character (a stray continuation byte) are released as U+FFFD at once rather than
 * stalling the stream.
 */
final class Utf8Pieces {

    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    /** Adds a token's bytes; returns the text that is now complete (may be empty). */
    String push(byte[] piece) {
        pending.writeBytes(piece);
        byte[] b = pending.toByteArray();
        int complete = completePrefix(b);
        if (complete == 0) {
            return "";
        }
        pending.reset();
        pending.write(b, complete, b.length - complete);
        return new String(b, 0, complete, StandardCharsets.UTF_8);
    }

    /** Releases whatever is left, incomplete bytes as U+FFFD. */
    String flush() {
        byte[] b = pending.toByteArray();
        pending.reset();
        return new String(b, StandardCharsets.UTF_8);
    }

    /** True when bytes are waiting for the rest of their character. */
    boolean hasPending() {
        return pending.size() > 0;
    }

    /** Length of the longest prefix that does not end inside a (possibly valid) sequence. */
    static int completePrefix(byte[] b) {
        int n = b.length;
        // The last sequence starts at most 3 bytes before the end.
        for (int back = 1; back <= Math.min(4, n); back++) {
            int lead = b[n - back] & 0xFF;
            if ((lead & 0xC0) == 0x80) {
                continue; // continuation byte: keep looking for the lead byte
            }
            int need = lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3
                    : (lead & 0xF8) == 0xF0 ? 4 : 1;
            return back < need ? n - back : n;
        }
        // Only continuation bytes at the end (or 4 of them): nothing valid can follow.
        return n;
    }
}
