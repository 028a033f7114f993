package io.loadstone.download.cli;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The command line of {@code loadstone download} (also accepted by the shell command):
 * {@code user/model[:branch] [--file NAME] [--models DIR] [--loras DIR] [--list] [--parallel N]
 * [--endpoint URL] [--verbose]}.
 */
public record Arguments(String input, Optional<String> file, Optional<Path> modelsDir, Optional<Path> lorasDir,
        boolean list, Optional<Integer> parallel, Optional<String> endpoint, boolean verbose, boolean help) {

    public static final String USAGE = """
            Usage: loadstone download <user/model[:branch] | Hub URL> [options]
              -f, --file NAME     download only this file (a GGUF repo with several GGUF files needs one)
                  --models DIR    models folder (default: ./models)
                  --loras DIR     LoRA folder (default: ./loras)
              -l, --list          list the repo's files and exit
                  --parallel N    files fetched at the same time (default: 4)
                  --endpoint URL  Hub URL (default: $HF_ENDPOINT or https://huggingface.co)
              -v, --verbose       log what happens (retries, redirects)
              -h, --help          this help
            Gated and private repos need a token: set HF_TOKEN (https://huggingface.co/settings/tokens).
            An interrupted download resumes when the same command is run again.""";

    /** A command line that cannot be run; the message says why. */
    public static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        public UsageException(String message) {
            super(message);
        }
    }

    public static Arguments parse(String... args) throws UsageException {
        String input = null;
        Optional<String> file = Optional.empty();
        Optional<Path> models = Optional.empty();
        Optional<Path> loras = Optional.empty();
        Optional<Integer> parallel = Optional.empty();
        Optional<String> endpoint = Optional.empty();
        boolean list = false;
        boolean verbose = false;
        boolean help = false;
        int i = 0;
        if (args.length > 0 && args[0].equals("download")) {
            i = 1; // "loadstone download …" passes its sub-command along
        }
        for (; i < args.length; i++) {
            String a = args[i];
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                value = a.substring(eq + 1);
                a = a.substring(0, eq);
            }
            switch (a) {
                case "-h", "--help" -> help = true;
                case "-l", "--list" -> list = true;
                case "-v", "--verbose" -> verbose = true;
                case "-f", "--file" -> file = Optional.of(value != null ? value : next(args, ++i, a));
                case "--models" -> models = Optional.of(path(value != null ? value : next(args, ++i, a), a));
                case "--loras" -> loras = Optional.of(path(value != null ? value : next(args, ++i, a), a));
                case "--endpoint" -> endpoint = Optional.of(value != null ? value : next(args, ++i, a));
                case "--parallel" -> {
                    String v = value != null ? value : next(args, ++i, a);
                    try {
                        int n = Integer.parseInt(v);
                        if (n < 1 || n > 64) {
                            throw new NumberFormatException();
                        }
                        parallel = Optional.of(n);
                    } catch (NumberFormatException e) {
                        throw new UsageException("--parallel needs a number from 1 to 64, not '" + v + "'");
                    }
                }
                default -> {
                    if (a.startsWith("-") && a.length() > 1) {
                        throw new UsageException("Unknown option '" + a + "'");
                    }
                    if (input != null) {
                        throw new UsageException("Two models given ('" + input + "' and '" + a
                                + "'); download one at a time (a file name goes after --file)");
                    }
                    input = a;
                }
            }
        }
        if (input == null && !help) {
            throw new UsageException("No model given, for example: loadstone download facebook/opt-125m");
        }
        return new Arguments(input, file, models, loras, list, parallel, endpoint, verbose, help);
    }

    private static String next(String[] args, int i, String option) throws UsageException {
        if (i >= args.length || args[i].isEmpty()) {
            throw new UsageException(option + " needs a value");
        }
        return args[i];
    }

    private static Path path(String s, String option) throws UsageException {
        try {
            return Path.of(s);
        } catch (RuntimeException e) {
            throw new UsageException(option + ": '" + s + "' is not a valid path");
        }
    }
}
