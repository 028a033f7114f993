package io.loadstone.tokenizer.hf;

import java.util.Arrays;

import io.loadstone.tokenizer.StreamDecoder;

/**
 * Streaming decode by difference: the text a new token adds is decode(window + pending) minus
 * decode(window), where the window is the last few tokens already emitted. Decoding them
 * together lets the tokenizer's own decoder decide spaces (Metaspace, Strip) and join
 * byte-fallback or byte-level pieces; the difference is held back while it ends in U+FFFD,
 * the mark of a character whose bytes are not all there yet.
 */
final class IncrementalStreamDecoder implements StreamDecoder {

    /** A UTF-8 character is at most 4 bytes; past this many held tokens the text is let out anyway. */
    private static final int MAX_HELD = 8;
    /** How many tokens of context a caller's prompt contributes. */
    private static final int CONTEXT = 6;
    private static final char REPLACEMENT = '\uFFFD';

    private final JniTokenizer tokenizer;
    private final boolean skipSpecial;
    private int[] ids;
    private int size;
    /** ids[windowStart, emittedEnd) were emitted; ids[emittedEnd, size) are held back. */
    private int windowStart;
    private int emittedEnd;

    IncrementalStreamDecoder(JniTokenizer tokenizer, int[] context, boolean skipSpecial) {
        this.tokenizer = tokenizer;
        this.skipSpecial = skipSpecial;
        int from = Math.max(0, context.length - CONTEXT);
        this.ids = Arrays.copyOf(Arrays.copyOfRange(context, from, context.length), Math.max(16, CONTEXT * 2));
        this.size = context.length - from;
        this.windowStart = 0;
        this.emittedEnd = size;
        // Fails fast on a context id the vocabulary does not have.
        tokenizer.decode(ids, 0, size, skipSpecial);
    }

    @Override
    public String push(int tokenId) {
        // Validate before storing, so a bad id does not poison later pushes.
        tokenizer.checkId(tokenId);
        if (size == ids.length) {
            compact();
        }
        ids[size++] = tokenId;
        return emit(false);
    }

    @Override
    public String flush() {
        return emittedEnd < size ? emit(true) : "";
    }

    private String emit(boolean force) {
        String before = tokenizer.decode(ids, windowStart, emittedEnd, skipSpecial);
        String after = tokenizer.decode(ids, windowStart, size, skipSpecial);
        boolean grew = after.length() > before.length();
        boolean complete = grew && after.charAt(after.length() - 1) != REPLACEMENT;
        if (!force && !complete && size - emittedEnd < MAX_HELD) {
            return "";
        }
        String out;
        if (after.startsWith(before)) {
            out = after.substring(before.length());
        } else {
            // The decoder rewrote earlier text (rare): emit what differs; what was sent stays sent.
            int common = 0;
            int n = Math.min(before.length(), after.length());
            while (common < n && before.charAt(common) == after.charAt(common)) {
                common++;
            }
            out = after.substring(common);
        }
        windowStart = emittedEnd;
        emittedEnd = size;
        return out;
    }

    /** Drops ids before the window; grows the array only when the window itself fills it. */
    private void compact() {
        if (windowStart > 0) {
            System.arraycopy(ids, windowStart, ids, 0, size - windowStart);
            size -= windowStart;
            emittedEnd -= windowStart;
            windowStart = 0;
        }
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, ids.length * 2);
        }
    }
}
