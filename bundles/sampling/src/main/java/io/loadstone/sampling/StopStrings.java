package io.loadstone.sampling;

import java.util.List;

/**
 * Finds stop strings in generated text and decides how much of it may be streamed: text
 * that could still be the beginning of a stop string is held back until the next piece
 * shows whether it is one. The stop string itself is never emitted. Shared by every loader,
 * so stop strings behave the same whichever loader generates.
 */
public final class StopStrings {

    private final List<String> stops;
    private final StringBuilder text = new StringBuilder();
    private int released;
    private boolean stopped;

    public StopStrings(List<String> stops) {
        this.stops = stops.stream().filter(s -> !s.isEmpty()).toList();
    }

    /**
     * Appends generated text and returns the part that can be released now. After a stop
     * string was found, {@link #stopped()} is true and the text ends before it.
     */
    public String append(String piece) {
        if (stopped || piece.isEmpty()) {
            return "";
        }
        int searchFrom = text.length();
        text.append(piece);
        int cut = -1;
        for (String s : stops) {
            int i = text.indexOf(s, Math.max(0, searchFrom - s.length() + 1));
            if (i >= 0 && (cut < 0 || i < cut)) {
                cut = i;
            }
        }
        if (cut >= 0) {
            text.setLength(cut);
            stopped = true;
            return release(cut);
        }
        return release(text.length() - heldBack());
    }

    /** Releases everything still held back (generation ended without a stop string). */
    public String flush() {
        return release(text.length());
    }

    public boolean stopped() {
        return stopped;
    }

    /** All text so far, without a stop string. */
    public String text() {
        return text.toString();
    }

    private String release(int end) {
        if (end <= released) {
            return "";
        }
        String out = text.substring(released, end);
        released = end;
        return out;
    }

    private boolean endsWithPrefix(String s, int k) {
        int off = text.length() - k;
        for (int i = 0; i < k; i++) {
            if (text.charAt(off + i) != s.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** Length of the longest end of the text that is a proper prefix of a stop string. */
    private int heldBack() {
        int best = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, text.length()); k > best; k--) {
                if (endsWithPrefix(s, k)) {
                    best = k;
                    break;
                }
            }
        }
        // Never split a surrogate pair.
        if (best > 0 && best < text.length() && Character.isLowSurrogate(text.charAt(text.length() - best))) {
            best++;
        }
        return Math.max(0, Math.min(best, text.length() - released));
    }
}
