package io.loadstone.download.service;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Function;

import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.DownloadJob;
import io.loadstone.download.DownloadListener;
import io.loadstone.download.DownloadPlan;
import io.loadstone.download.DownloadPlan.Layout;
import io.loadstone.download.ModelDownloader;
import io.loadstone.download.RemoteFile;
import io.loadstone.download.RepoRef;
import io.loadstone.download.hub.Cancellation;
import io.loadstone.download.hub.HubClient;
import io.loadstone.download.hub.HubEndpoint;
import io.loadstone.download.hub.Pause;
import io.loadstone.download.hub.RepoInputParser;
import io.loadstone.download.hub.RetryPolicy;
import io.loadstone.download.selection.FileSelector;
import io.loadstone.download.selection.FileSelector.Selection;
import io.loadstone.download.transfer.DiskSpace;
import io.loadstone.download.transfer.Job;
import io.loadstone.download.transfer.Staging;

/**
 * The downloader itself, without OSGi: the DS component and the command line both build one from
 * {@link Settings} and the process environment.
 *
 * <p>Where settings come from: {@code HF_ENDPOINT} overrides the configured endpoint; the token is
 * {@code HF_TOKEN}, else the configured token, else the file {@code huggingface-cli login} writes
 * ({@code $HF_TOKEN_PATH}, {@code $HF_HOME/token} or {@code ~/.cache/huggingface/token}).
 */
public final class Downloader implements ModelDownloader, AutoCloseable {

    private static final System.Logger LOG = System.getLogger(Downloader.class.getName());

    private final Settings settings;
    private final HubClient hub;
    private final RepoInputParser parser;
    private final FileSelector selector = new FileSelector();
    private final Set<Job> running;
    private final Consumer<Path> onPublished;
    private final Consumer<URI> onRequest;

    /**
     * @param env         the process environment ({@code System::getenv}), a map's {@code get} in tests
     * @param running     where running jobs are registered (shared when the component is reconfigured)
     * @param onPublished told about each model that appeared
     * @param onRequest   told every URL requested, may be null
     */
    public Downloader(Settings settings, Function<String, String> env, Set<Job> running, Consumer<Path> onPublished,
            Consumer<URI> onRequest) {
        Settings s = settings;
        String endpointEnv = env.apply("HF_ENDPOINT");
        if (endpointEnv != null && !endpointEnv.isBlank()) {
            try {
                s = s.withEndpoint(URI.create(endpointEnv.strip()));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("HF_ENDPOINT='" + endpointEnv + "' is not a URL, for example"
                        + " https://huggingface.co", e);
            }
        }
        s = s.withToken(token(env, s.token()));
        this.settings = s;
        HubEndpoint endpoint = new HubEndpoint(s.endpoint(), s.token());
        this.hub = new HubClient(endpoint,
                new RetryPolicy(s.retries(), s.backoffBase(), s.backoffMax(), s.maxRetryAfter()), s.connectTimeout(),
                s.idleTimeout());
        this.parser = new RepoInputParser(endpoint.base());
        this.running = running;
        this.onPublished = onPublished;
        this.onRequest = onRequest;
        LOG.log(Level.DEBUG, "Downloader ready: {0}", s);
    }

    /** A standalone downloader (command line): its own job list, nothing to tell when a model appears. */
    public Downloader(Settings settings, Function<String, String> env) {
        this(settings, env, ConcurrentHashMap.newKeySet(), p -> {
        }, null);
    }

    private static Optional<String> token(Function<String, String> env, Optional<String> configured) {
        String t = env.apply("HF_TOKEN");
        if (t != null && !t.isBlank()) {
            return Optional.of(t.strip());
        }
        if (configured.isPresent() && !configured.get().isBlank()) {
            return configured;
        }
        Path file = null;
        String path = env.apply("HF_TOKEN_PATH");
        String hfHome = env.apply("HF_HOME");
        String home = env.apply("HOME") != null ? env.apply("HOME") : env.apply("USERPROFILE");
        if (path != null && !path.isBlank()) {
            file = Path.of(path);
        } else if (hfHome != null && !hfHome.isBlank()) {
            file = Path.of(hfHome, "token");
        } else if (home != null && !home.isBlank()) {
            file = Path.of(home, ".cache", "huggingface", "token");
        }
        if (file != null && Files.isRegularFile(file)) {
            try {
                String s = Files.readString(file, StandardCharsets.UTF_8).strip();
                if (!s.isEmpty()) {
                    return Optional.of(s);
                }
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.DEBUG, "Cannot read the token file {0}: {1}", file, e.getMessage());
            }
        }
        return Optional.empty();
    }

    public Settings settings() {
        return settings;
    }

    @Override
    public RepoRef parse(String input) throws DownloadException {
        return parser.parse(input);
    }

    @Override
    public List<RemoteFile> listFiles(RepoRef ref) throws DownloadException {
        try {
            return hub.listFiles(ref.withoutFile(), Pause.SLEEP, new Cancellation());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DownloadException(Reason.CANCELLED, "Listing " + ref + " was interrupted");
        }
    }

    @Override
    public DownloadPlan plan(RepoRef ref, Optional<String> file) throws DownloadException {
        return plan(ref, file, settings.modelsDir(), settings.lorasDir());
    }

    /** {@link #plan(RepoRef, Optional)} into other folders than the configured ones. */
    public DownloadPlan plan(RepoRef ref, Optional<String> file, Path modelsDir, Path lorasDir)
            throws DownloadException {
        Optional<String> chosen = file.map(String::strip).filter(f -> !f.isEmpty()).or(ref::file);
        List<RemoteFile> listing = listFiles(ref);
        Selection s = selector.select(ref.withoutFile(), listing, chosen);
        Path models = modelsDir.toAbsolutePath().normalize();
        Path loras = lorasDir.toAbsolutePath().normalize();
        Path base = s.lora() && s.layout() == Layout.FOLDER ? loras : models;
        Path target = s.layout() == Layout.CHOOSE_GGUF ? models : base.resolve(s.targetName());
        return new DownloadPlan(ref.withoutFile(), s.layout(), target, s.lora(), s.files(), s.choices(), s.notes());
    }

    @Override
    public DownloadJob start(DownloadPlan plan, DownloadListener listener) throws DownloadException {
        if (plan.needsChoice()) {
            throw new DownloadException(Reason.CHOICE_NEEDED, plan.describe());
        }
        if (plan.files().isEmpty()) {
            throw new DownloadException(Reason.NOT_FOUND, "Nothing to download from " + plan.ref());
        }
        Path target = plan.target().toAbsolutePath().normalize();
        if (target.getParent() == null) {
            throw new DownloadException(Reason.INVALID_INPUT, "Cannot download into " + target
                    + ": choose a models folder");
        }
        Staging staging = new Staging(target.getParent(), target.getFileName().toString());
        staging.prepare();
        var lock = staging.lock();
        boolean started = false;
        try {
            if (!Files.exists(target)) {
                DiskSpace.check(staging, plan, settings.freeSpaceMargin());
            }
            Job job = new Job(plan, hub, staging, lock, listener, settings.parallelFiles(), onPublished,
                    running::remove, onRequest);
            running.add(job);
            job.begin();
            started = true;
            LOG.log(Level.INFO, "Downloading {0} into {1}", plan.ref(), target);
            return job;
        } finally {
            if (!started) {
                staging.unlock(lock, false);
            }
        }
    }

    @Override
    public List<DownloadJob> running() {
        return List.copyOf(running);
    }

    /**
     * Cancels the jobs in this downloader's registry (partial files are kept). Connections are not pooled
     * beyond the JDK's keep-alive cache, so there is nothing else to release.
     */
    @Override
    public void close() {
        running.forEach(Job::cancel);
    }
}
