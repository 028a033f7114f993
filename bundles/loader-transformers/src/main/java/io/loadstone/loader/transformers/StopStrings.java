package io.loadstone.loader.transformers;

import java.util.List;

/**
 * Cuts generated text at the first stop string. Text that might still turn into a stop string
 * is held back until the following pieces decide, so a stop string never reaches the client.
 */
final class StopStrings {

    private final List<String> stops;
    private final StringBuilder text = new StringBuilder();
    private int released;
    private boolean stopped;

    StopStrings(List<String> stops) {
        this.stops = stops.stream().filter(s -> !s.isEmpty()).toList();
    }

    /** Adds a piece; returns what may be streamed now. */
    String append(String piece) {
        if (stopped || piece.isEmpty()) {
            return "";
        }
        int from = text.length();
        text.append(piece);
        int cut = -1;
        for (String s : stops) {
            int i = text.indexOf(s, Math.max(0, from - s.length() + 1));
            if (i >= 0 && (cut < 0 || i < cut)) {
                cut = i;
            }
        }
        if (cut >= 0) {
            stopped = true;
            text.setLength(cut);
            return releaseTo(cut);
        }
        return releaseTo(text.length() - pendingPrefix());
    }

    /** Everything still held back: generation ended for another reason. */
    String flush() {
        return releaseTo(text.length());
    }

    boolean stopped() {
        return stopped;
    }

    String text() {
        return text.toString();
    }

    private String releaseTo(int end) {
        if (end <= released) {
            return "";
        }
        String out = text.substring(released, end);
        released = end;
        return out;
    }

    private boolean endsWith(String s, int k) {
        int off = text.length() - k;
        for (int i = 0; i < k; i++) {
            if (text.charAt(off + i) != s.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** Length of the longest tail of the text that begins some stop string. */
    private int pendingPrefix() {
        int best = 0;
        for (String s : stops) {
            int max = Math.min(s.length() - 1, text.length());
            for (int k = max; k > best; k--) {
                if (endsWith(s, k)) {
                    best = k;
                    break;
                }
            }
        }
        int end = text.length() - best;
        // Keep a surrogate pair together.
        if (best > 0 && end > 0 && Character.isHighSurrogate(text.charAt(end - 1))) {
            best++;
        }
        return Math.min(best, text.length() - released);
    }
}
