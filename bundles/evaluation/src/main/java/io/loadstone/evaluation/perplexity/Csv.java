package io.loadstone.evaluation.perplexity;

import java.util.ArrayList;
import java.util.List;

/**
 * RFC 4180 CSV: fields with a comma, quote, CR or LF are quoted, quotes doubled; CRLF line ends.
 * A text field starting with {@code = + - @}, tab or CR gets a leading {@code '} (OWASP's advice),
 * so a spreadsheet opening evaluations.csv shows a comment such as {@code =HYPERLINK(...)} as text
 * instead of running it; {@link #parse} removes that mark again. Numbers ({@code -1.5}) are left alone.
 */
final class Csv {

    private Csv() {
    }

    static String row(List<String> fields) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fields.size(); i++) {
            if (i > 0) {
                sb.append(',');
            }
            String f = defuse(fields.get(i) == null ? "" : fields.get(i));
            if (f.indexOf(',') >= 0 || f.indexOf('"') >= 0 || f.indexOf('\n') >= 0 || f.indexOf('\r') >= 0
                    || (!f.isEmpty() && (f.charAt(0) == ' ' || f.charAt(f.length() - 1) == ' '))) {
                sb.append('"').append(f.replace("\"", "\"\"")).append('"');
            } else {
                sb.append(f);
            }
        }
        return sb.append("\r\n").toString();
    }

    private static final java.util.regex.Pattern NUMBER = java.util.regex.Pattern.compile(
            "[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?");

    static String defuse(String f) {
        return needsMark(f) ? "'" + f : f;
    }

    /** Starts with a formula character, or is such a text already marked (so parse gives it back unchanged). */
    private static boolean needsMark(String f) {
        if (f.isEmpty()) {
            return false;
        }
        char c = f.charAt(0);
        return "=+-@\t\r".indexOf(c) >= 0 && !NUMBER.matcher(f).matches() || c == '\'' && needsMark(f.substring(1));
    }

    private static String restore(String f) {
        return f.startsWith("'") && needsMark(f.substring(1)) ? f.substring(1) : f;
    }

    /**
     * Parses a whole file into records. Accepts LF or CRLF line ends and quoted fields that
     * span lines; a record that is just an empty line is skipped.
     */
    static List<List<String>> parse(String text) {
        List<List<String>> rows = new ArrayList<>();
        List<String> row = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        boolean fieldStarted = false;
        int i = 0;
        int n = text.length();
        if (n > 0 && text.charAt(0) == '\uFEFF') {
            i = 1; // a byte-order mark from a spreadsheet program
        }
        for (; i < n; i++) {
            char c = text.charAt(i);
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < n && text.charAt(i + 1) == '"') {
                        field.append('"');
                        i++;
                    } else {
                        quoted = false;
                    }
                } else {
                    field.append(c);
                }
            } else if (c == '"' && field.isEmpty()) {
                quoted = true;
                fieldStarted = true;
            } else if (c == ',') {
                row.add(restore(field.toString()));
                field.setLength(0);
                fieldStarted = true;
            } else if (c == '\n' || c == '\r') {
                if (c == '\r' && i + 1 < n && text.charAt(i + 1) == '\n') {
                    i++;
                }
                if (fieldStarted || !field.isEmpty() || !row.isEmpty()) {
                    row.add(restore(field.toString()));
                    rows.add(row);
                }
                row = new ArrayList<>();
                field.setLength(0);
                fieldStarted = false;
            } else {
                field.append(c);
                fieldStarted = true;
            }
        }
        if (fieldStarted || !field.isEmpty() || !row.isEmpty()) {
            row.add(restore(field.toString()));
            rows.add(row);
        }
        return rows;
    }
}
