package io.loadstone.download.cli;

import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.loadstone.api.runtime.ByteSize;
import io.loadstone.download.DownloadEvent;
import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadJob;
import io.loadstone.download.DownloadPlan;
import io.loadstone.download.RemoteFile;
import io.loadstone.download.RepoRef;
import io.loadstone.download.service.Downloader;
import io.loadstone.download.service.Settings;

/**
 * {@code loadstone download user/model[:branch] [--file NAME] [--models DIR] [--loras DIR]}: the downloader
 * without OSGi. Progress is one line on stderr, rewritten in place ({@code \r}) on a terminal and printed every
 * few seconds otherwise; errors are one clear line; stdout gets only results (the model's path, or the file
 * list), so scripts can use them. Exit status: 0 done, 1 failed, 2 bad command line or a GGUF choice needed,
 * 130 interrupted (partial files kept; the same command resumes).
 */
public final class DownloadCommandLine {

    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int USAGE = 2;
    public static final int INTERRUPTED = 130;

    private static final long PLAIN_PROGRESS_NANOS = Duration.ofSeconds(5).toNanos();

    private final PrintStream out;
    private final PrintStream err;
    private final Function<String, String> env;
    private final boolean terminal;
    private final Settings base;
    /** Held so the level set on it stays (JUL keeps loggers only weakly). */
    private final Logger libraryLogger = Logger.getLogger("io.loadstone.download");

    /**
     * @param base settings before the command line's options (tests shorten retries and timeouts with it)
     */
    public DownloadCommandLine(PrintStream out, PrintStream err, Function<String, String> env, boolean terminal,
            Settings base) {
        this.out = out;
        this.err = err;
        this.env = env;
        this.terminal = terminal;
        this.base = base;
    }

    public static void main(String[] args) {
        var console = System.console();
        DownloadCommandLine cli = new DownloadCommandLine(System.out, System.err, System::getenv,
                console != null && console.isTerminal(), Settings.defaults());
        AtomicReference<DownloadJob> current = new AtomicReference<>();
        CountDownLatch finished = new CountDownLatch(1);
        // Ctrl-C: cancel (partial files stay), then let run() print what happened before the JVM goes.
        Thread hook = new Thread(() -> {
            DownloadJob job = current.get();
            if (job != null && !job.isDone()) {
                job.cancel();
            }
            try {
                finished.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "loadstone-download-interrupt");
        Runtime.getRuntime().addShutdownHook(hook);
        int status = cli.run(current::set, args);
        finished.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            return; // interrupted: the JVM is already exiting (System.exit would now block)
        }
        System.exit(status);
    }

    /** Runs one command line; {@code onJob} is told the job once it started (for the Ctrl-C handler). */
    public int run(Consumer<DownloadJob> onJob, String... args) {
        Arguments a;
        try {
            a = Arguments.parse(args);
        } catch (Arguments.UsageException e) {
            err.println("error: " + e.getMessage());
            err.println(Arguments.USAGE);
            return USAGE;
        }
        if (a.help()) {
            err.println(Arguments.USAGE);
            return OK;
        }
        if (!a.verbose()) {
            // The library logs INFO lines (started, done) that would break the progress line.
            libraryLogger.setLevel(Level.WARNING);
        }
        Downloader downloader;
        try {
            Settings s = base;
            Function<String, String> environment = env;
            if (a.endpoint().isPresent()) {
                s = s.withEndpoint(URI.create(a.endpoint().get()));
                environment = name -> name.equals("HF_ENDPOINT") ? null : env.apply(name);
            }
            s = s.withDirs(a.modelsDir().orElse(s.modelsDir()), a.lorasDir().orElse(
                    a.modelsDir().map(m -> m.toAbsolutePath().normalize().resolveSibling("loras"))
                            .orElse(s.lorasDir())));
            if (a.parallel().isPresent()) {
                s = s.withParallelFiles(a.parallel().get());
            }
            downloader = new Downloader(s, environment);
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return USAGE;
        }
        try {
            return run(downloader, a, onJob);
        } catch (DownloadException e) {
            if (e.reason() == DownloadException.Reason.CANCELLED) {
                err.println(System.lineSeparator() + e.getMessage());
                return INTERRUPTED;
            }
            err.println((terminal ? System.lineSeparator() : "") + "error: " + e.getMessage());
            return e.reason() == DownloadException.Reason.INVALID_INPUT ? USAGE : FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return INTERRUPTED;
        } finally {
            downloader.close();
        }
    }

    private int run(Downloader downloader, Arguments a, Consumer<DownloadJob> onJob)
            throws DownloadException, InterruptedException {
        RepoRef ref = downloader.parse(a.input());
        if (a.list()) {
            List<RemoteFile> files = downloader.listFiles(ref);
            for (RemoteFile f : files) {
                out.printf("%12d  %-64s  %s%n", f.size(), f.sha256().orElse("-"), f.path());
            }
            err.println(files.size() + " files in " + ref);
            return OK;
        }
        DownloadPlan plan = downloader.plan(ref, a.file());
        if (plan.needsChoice()) {
            err.println(plan.describe());
            err.println("Choose one with --file, for example: loadstone download " + ref + " --file "
                    + plan.ggufChoices().get(0).file());
            return USAGE;
        }
        err.println(headline(plan));
        plan.notes().forEach(n -> err.println("  note: " + n));
        long[] lastPlain = {System.nanoTime()};
        int[] width = {0};
        DownloadJob job = downloader.start(plan, event -> {
            switch (event) {
                case DownloadEvent.Progress p -> {
                    String line = ProgressText.line(p);
                    if (terminal) {
                        String padded = line + " ".repeat(Math.max(0, width[0] - line.length()));
                        width[0] = line.length();
                        err.print("\r" + padded);
                        err.flush();
                    } else if (System.nanoTime() - lastPlain[0] >= PLAIN_PROGRESS_NANOS) {
                        lastPlain[0] = System.nanoTime();
                        err.println(line);
                    }
                }
                case DownloadEvent.Retrying r -> {
                    if (a.verbose()) {
                        err.println((terminal ? System.lineSeparator() : "") + "retrying " + r.path() + " in "
                                + r.delay().toMillis() + " ms: " + r.reason());
                    }
                }
                default -> {
                }
            }
        });
        onJob.accept(job);
        Path target = job.await();
        DownloadEvent.Completed done = (DownloadEvent.Completed) job.outcome().orElseThrow();
        if (terminal) {
            err.println();
        }
        if (done.alreadyPresent()) {
            err.println("Already downloaded: " + target);
        } else {
            err.println("Done: " + ByteSize.format(done.bytesFetched()) + " in "
                    + ProgressText.duration(done.elapsed()) + ", every file verified.");
        }
        out.println(target);
        return OK;
    }

    private static String headline(DownloadPlan plan) {
        return "Downloading " + plan.files().size() + (plan.files().size() == 1 ? " file" : " files") + " ("
                + ByteSize.format(plan.totalBytes()) + ") from " + plan.ref() + " to " + plan.target()
                + (plan.lora() ? " (LoRA)" : "");
    }
}
