package io.loadstone.evaluation.perplexity;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.evaluation.EvaluationProgress;
import io.loadstone.evaluation.EvaluationRequest;
import io.loadstone.evaluation.EvaluationResult;
import io.loadstone.evaluation.PerplexityEvaluator;
import io.loadstone.evaluation.PerplexityMethod;

/**
 * Gogo commands {@code loadstone:perplexity} and {@code loadstone:evaluations}. Errors come
 * back as text (what is wrong and what to do), never as a stack trace.
 */
@Component(service = EvaluationCommands.class, property = { "osgi.command.scope=loadstone",
        "osgi.command.function=perplexity", "osgi.command.function=evaluations" })
public final class EvaluationCommands {

    static final String USAGE = "Usage: perplexity [-m MODEL[,MODEL...]] [-s STRIDE] [-l MAX_LENGTH] [--method windows|chunks] "
            + "[-f] [-c COMMENT] DATASET_FILE | \"TEXT...\"\n"
            + "  DATASET_FILE: a .txt file in the datasets folder (.txt optional); anything else is evaluated as text.\n"
            + "  -s 512 (default), 1 = slowest and most accurate; -l 0 (default) = the model's context length;\n"
            + "  --method windows (text-generation-webui, default) or chunks (llama.cpp's perplexity tool);\n"
            + "  -f evaluates again even when the log has this combination;\n"
            + "  -m a,b,c evaluates each model in turn, loading one that is not loaded with its saved settings\n"
            + "  (a failure is reported and the next model follows); default: the loaded model.\n";

    private final PerplexityEvaluator evaluator;

    @Activate
    public EvaluationCommands(@Reference PerplexityEvaluator evaluator) {
        this.evaluator = evaluator;
    }

    public String perplexity(String... args) {
        String model = null;
        int stride = 512;
        int maxLength = 0;
        PerplexityMethod method = PerplexityMethod.WINDOWS;
        boolean force = false;
        String comment = "";
        int i = 0;
        try {
            for (; i < args.length && args[i].startsWith("-") && args[i].length() > 1; i++) {
                String flag = args[i];
                if (flag.equals("-f") || flag.equals("--force")) {
                    force = true;
                    continue;
                }
                if (i + 1 >= args.length) {
                    return "Missing value after " + flag + "\n" + USAGE;
                }
                String v = args[++i];
                switch (flag) {
                    case "-m", "--model" -> model = v;
                    case "-s", "--stride" -> stride = Integer.parseInt(v);
                    case "-l", "--max-length", "--max_length" -> maxLength = Integer.parseInt(v);
                    case "-c", "--comment" -> comment = v;
                    case "--method" -> {
                        try {
                            method = PerplexityMethod.valueOf(v.toUpperCase(Locale.ROOT));
                        } catch (IllegalArgumentException e) {
                            return "Unknown method '" + v + "': windows or chunks.\n";
                        }
                    }
                    default -> {
                        return "Unknown flag " + flag + "\n" + USAGE;
                    }
                }
            }
        } catch (NumberFormatException e) {
            return "Not a number: " + e.getMessage() + "\n" + USAGE;
        }
        String rest = String.join(" ", List.of(args).subList(i, args.length));
        if (rest.isBlank()) {
            return USAGE + "Datasets in " + evaluator.datasetsDir() + ": " + String.join(", ", evaluator.datasets())
                    + "\n";
        }
        boolean isDataset = i == args.length - 1 && isDataset(rest);
        List<String> models = model == null ? java.util.Collections.singletonList(null)
                : java.util.Arrays.stream(model.split(",")).map(String::strip).filter(m -> !m.isEmpty()).toList();
        if (models.isEmpty()) {
            return "No model named after -m.\n" + USAGE;
        }
        PrintStream out = System.out; // Gogo routes the session's output through System.out.
        StringBuilder summary = new StringBuilder();
        for (int k = 0; k < models.size() && !Thread.currentThread().isInterrupted(); k++) {
            String m = models.get(k);
            String prefix = models.size() > 1 ? "[" + (k + 1) + "/" + models.size() + "] " + m + ": " : "";
            EvaluationRequest request = new EvaluationRequest(m, isDataset ? rest : null, isDataset ? null : rest,
                    stride, maxLength, method, force, comment);
            boolean[] loading = new boolean[1];
            try {
                EvaluationResult r = evaluator.evaluate(request, new EvaluationProgress() {
                    @Override
                    public boolean progress(int done, int total) {
                        loading[0] = false;
                        out.print("\r" + prefix + "window " + done + "/" + total);
                        out.flush();
                        return !Thread.currentThread().isInterrupted();
                    }

                    @Override
                    public boolean loading(String name, String loaderId) {
                        loading[0] = true;
                        out.print("\r" + prefix + "loading " + name + " with " + loaderId + " ...");
                        out.flush();
                        return !Thread.currentThread().isInterrupted();
                    }
                });
                summary.append('\n').append(describe(r)).append('\n');
            } catch (ModelLoadException e) {
                if (models.size() == 1) {
                    return "\nFailed: " + e.userMessage() + "\n";
                }
                String line = loading[0] ? "Failed to load " + m + ": " + e.userMessage() + " — moving on."
                        : "Failed: " + m + ": " + e.userMessage() + (k + 1 < models.size() ? " — moving on." : "");
                out.println("\n" + line);
                summary.append('\n').append(line).append('\n');
            }
        }
        return summary.toString();
    }

    public String evaluations() {
        List<EvaluationResult> rows = evaluator.history();
        if (rows.isEmpty()) {
            return "No evaluations in " + evaluator.logFile() + " yet.\n";
        }
        StringBuilder sb = new StringBuilder(evaluator.logFile().toString()).append(":\n");
        for (EvaluationResult r : rows) {
            sb.append(describe(r)).append('\n');
        }
        return sb.toString();
    }

    /**
     * One word that names a listed dataset, or looks like a file name ({@code *.txt}), is a
     * dataset: a mistyped or path-like name then gets "no such dataset" instead of being
     * evaluated as a few words of text.
     */
    private boolean isDataset(String arg) {
        String n = arg.strip();
        if (n.chars().anyMatch(Character::isWhitespace)) {
            return false;
        }
        return n.toLowerCase(Locale.ROOT).endsWith(".txt") || evaluator.datasets().stream().anyMatch(d -> d.equals(n)
                || d.equals(n + ".txt"));
    }

    static String describe(EvaluationResult r) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%s  %s  %s  %s stride=%d max_length=%d  "
                + "perplexity %.4f  (%d tokens", r.model(), r.loader(), r.dataset(), r.method().name().toLowerCase(
                        Locale.ROOT), r.stride(), r.maxLength(), r.perplexity(), r.tokens()));
        if (r.fromLog()) {
            sb.append(", from the log, ").append(r.date()).append("; -f to evaluate again");
        } else {
            sb.append(String.format(Locale.ROOT, ", %d windows, %d scored, %.2f s", r.windows(), r.scoredTokens(),
                    r.seconds()));
        }
        sb.append(')');
        if (!r.comment().isEmpty()) {
            sb.append("  # ").append(r.comment().replace('\n', ' '));
        }
        sb.append("\n    options: ").append(r.options());
        return sb.toString();
    }
}
