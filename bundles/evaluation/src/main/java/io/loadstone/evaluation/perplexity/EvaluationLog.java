package io.loadstone.evaluation.perplexity;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.evaluation.EvaluationResult;
import io.loadstone.evaluation.PerplexityMethod;

/**
 * logs/evaluations.csv, text-generation-webui's results table with the columns this runtime
 * needs to tell results apart (loader, its options, the method). Rows are appended, never
 * rewritten, so a spreadsheet or a script can keep reading the file; columns are found by
 * header name, so a file with columns in another order (or webui's own file) is still read.
 */
final class EvaluationLog {

    private static final Logger LOG = System.getLogger(EvaluationLog.class.getName());

    static final List<String> HEADER = List.of("Model", "Loader", "Options", "Dataset", "Method", "Stride",
            "max_length", "Perplexity", "Tokens", "Date", "Comment");

    private final Path file;
    private final ReentrantLock lock = new ReentrantLock();

    EvaluationLog(Path file) {
        this.file = file;
    }

    Path file() {
        return file;
    }

    /** Rows that parse, oldest first; a row that does not (hand-edited) is skipped and logged. */
    List<EvaluationResult> read() throws ModelLoadException {
        lock.lock();
        try {
            if (!Files.isRegularFile(file)) {
                return List.of();
            }
            List<List<String>> rows = Csv.parse(Files.readString(file, StandardCharsets.UTF_8));
            if (rows.isEmpty()) {
                return List.of();
            }
            Map<String, Integer> columns = new HashMap<>();
            List<String> header = rows.get(0);
            for (int i = 0; i < header.size(); i++) {
                columns.putIfAbsent(header.get(i).trim().toLowerCase(Locale.ROOT), i);
            }
            List<EvaluationResult> out = new ArrayList<>();
            for (int r = 1; r < rows.size(); r++) {
                try {
                    out.add(parse(rows.get(r), columns));
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "Skipping row " + r + " of " + file + ": " + e.getMessage());
                }
            }
            return out;
        } catch (IOException e) {
            throw new ModelLoadException("Cannot read the evaluation log " + file + ": " + e.getMessage(),
                    "Check the file's permissions.", e);
        } finally {
            lock.unlock();
        }
    }

    /** The logged result for this combination, the latest if there are several. */
    Optional<EvaluationResult> find(String model, String loader, String options, String dataset,
            PerplexityMethod method, int stride, int maxLength) throws ModelLoadException {
        EvaluationResult found = null;
        for (EvaluationResult r : read()) {
            if (r.model().equals(model) && r.loader().equals(loader) && r.options().equals(options)
                    && r.dataset().equals(dataset) && r.method() == method && r.stride() == stride
                    && r.maxLength() == maxLength) {
                found = r;
            }
        }
        return Optional.ofNullable(found);
    }

    /** Appends one row; creates the file (and its folder) with the header first. */
    void append(EvaluationResult r) throws ModelLoadException {
        String row = Csv.row(List.of(r.model(), r.loader(), r.options(), r.dataset(),
                r.method().name().toLowerCase(Locale.ROOT), Integer.toString(r.stride()),
                Integer.toString(r.maxLength()), Double.toString(r.perplexity()), Integer.toString(r.tokens()),
                r.date().toString(), r.comment()));
        lock.lock();
        try {
            Files.createDirectories(file.getParent());
            String existing = Files.isRegularFile(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
            List<List<String>> rows = Csv.parse(existing);
            if (!rows.isEmpty() && !rows.get(0).equals(HEADER)) {
                // A file with other columns (text-generation-webui's own, or an older layout):
                // kept aside untouched, and a fresh log started, rather than mixing layouts.
                Path aside = file.resolveSibling(file.getFileName() + "." + System.currentTimeMillis() + ".bak");
                Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
                LOG.log(Level.WARNING, file + " had other columns " + rows.get(0) + "; moved to " + aside);
                existing = "";
                rows = List.of();
            }
            StringBuilder text = new StringBuilder();
            if (rows.isEmpty()) {
                text.append(Csv.row(HEADER));
            } else if (!existing.endsWith("\n")) {
                text.append("\r\n");
            }
            text.append(row);
            Files.writeString(file, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    rows.isEmpty() ? StandardOpenOption.TRUNCATE_EXISTING : StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new ModelLoadException("Cannot write the evaluation log " + file + ": " + e.getMessage(),
                    "Check that the logs folder is writable (PID io.loadstone.evaluation, logs.dir).", e);
        } finally {
            lock.unlock();
        }
    }

    private static EvaluationResult parse(List<String> row, Map<String, Integer> columns) {
        String perplexity = get(row, columns, "perplexity");
        if (perplexity.isBlank()) {
            throw new IllegalArgumentException("no perplexity");
        }
        String method = get(row, columns, "method");
        String date = get(row, columns, "date");
        Instant when;
        try {
            when = date.isBlank() ? Instant.EPOCH : Instant.parse(date.trim());
        } catch (DateTimeParseException e) {
            // text-generation-webui writes "YYYY-MM-DD HH:MM:SS" (local time).
            when = Instant.parse(date.trim().replace(' ', 'T') + "Z");
        }
        return new EvaluationResult(get(row, columns, "model"), get(row, columns, "loader"),
                get(row, columns, "options"), get(row, columns, "dataset"), intOf(get(row, columns, "stride")),
                intOf(get(row, columns, "max_length")), method.isBlank() ? PerplexityMethod.WINDOWS
                        : PerplexityMethod.valueOf(method.trim().toUpperCase(Locale.ROOT)),
                Double.parseDouble(perplexity.trim()), intOf(get(row, columns, "tokens")), 0, 0, 0, when,
                get(row, columns, "comment"), true);
    }

    private static String get(List<String> row, Map<String, Integer> columns, String name) {
        Integer i = columns.get(name);
        return i == null || i >= row.size() ? "" : row.get(i);
    }

    private static int intOf(String s) {
        return s.isBlank() ? 0 : (int) Double.parseDouble(s.trim());
    }
}
