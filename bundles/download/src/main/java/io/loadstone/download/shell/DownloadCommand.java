package io.loadstone.download.shell;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.loadstone.api.runtime.ByteSize;
import io.loadstone.download.DownloadEvent;
import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadJob;
import io.loadstone.download.DownloadPlan;
import io.loadstone.download.ModelDownloader;
import io.loadstone.download.RemoteFile;
import io.loadstone.download.RepoRef;
import io.loadstone.download.cli.Arguments;
import io.loadstone.download.cli.ProgressText;

/**
 * The Gogo shell command {@code loadstone:download user/model[:branch] [--file NAME] [--list]}. Gogo finds it by
 * its {@code osgi.command.*} properties and calls {@link #download(String...)} by name, so no Gogo API is needed.
 * It waits for the download, printing progress every few seconds to the session's error stream, and returns the
 * result text (which Gogo prints). Folders come from the downloader's configuration.
 */
@Component(service = DownloadCommand.class, property = {"osgi.command.scope=loadstone",
        "osgi.command.function=download"})
public final class DownloadCommand {

    private static final long PROGRESS_NANOS = Duration.ofSeconds(5).toNanos();
    private static final String USAGE = "usage: loadstone:download user/model[:branch] [--file NAME] [--list]";

    private final ModelDownloader downloader;

    @Activate
    public DownloadCommand(@Reference(name = "downloader") ModelDownloader downloader) {
        this.downloader = downloader;
    }

    /** {@code loadstone:download user/model[:branch] [--file NAME] [--list]}. */
    public String download(String... args) throws InterruptedException {
        Arguments a;
        try {
            a = Arguments.parse(args);
        } catch (Arguments.UsageException e) {
            return "error: " + e.getMessage() + "\n" + USAGE;
        }
        if (a.help()) {
            return USAGE + "\n"
                    + "Folders, endpoint and parallelism come from the configuration PID io.loadstone.download.";
        }
        if (a.modelsDir().isPresent() || a.lorasDir().isPresent() || a.endpoint().isPresent()
                || a.parallel().isPresent()) {
            return "error: in the shell, folders, endpoint and parallelism come from the configuration"
                    + " (PID io.loadstone.download); use only user/model, --file and --list here";
        }
        try {
            RepoRef ref = downloader.parse(a.input());
            if (a.list()) {
                StringBuilder b = new StringBuilder();
                for (RemoteFile f : downloader.listFiles(ref)) {
                    b.append(String.format("%10s  %s%n", ByteSize.format(f.size()), f.path()));
                }
                return b.toString().stripTrailing();
            }
            DownloadPlan plan = downloader.plan(ref, a.file());
            if (plan.needsChoice()) {
                return plan.describe() + "\nChoose one: loadstone:download " + ref + " --file "
                        + plan.ggufChoices().get(0).file();
            }
            long[] last = {System.nanoTime()};
            System.err.println(plan.describe().lines().findFirst().orElse(""));
            DownloadJob job = downloader.start(plan, event -> {
                if (event instanceof DownloadEvent.Progress p && System.nanoTime() - last[0] >= PROGRESS_NANOS) {
                    last[0] = System.nanoTime();
                    System.err.println(ProgressText.line(p));
                }
            });
            Path target;
            try {
                target = job.await();
            } catch (InterruptedException e) {
                job.cancel(); // Ctrl-C in the shell: stop, keep the partial files
                throw e;
            }
            Optional<DownloadEvent> outcome = job.outcome();
            if (outcome.isPresent() && outcome.get() instanceof DownloadEvent.Completed c && c.alreadyPresent()) {
                return "Already downloaded: " + target;
            }
            return "Downloaded " + ref + " into " + target;
        } catch (DownloadException e) {
            return "error: " + e.getMessage();
        }
    }
}
