package io.loadstone.download.service;

import java.lang.System.Logger.Level;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

import io.loadstone.api.runtime.ModelManager;
import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadJob;
import io.loadstone.download.DownloadListener;
import io.loadstone.download.DownloadPlan;
import io.loadstone.download.ModelDownloader;
import io.loadstone.download.RemoteFile;
import io.loadstone.download.RepoRef;
import io.loadstone.download.transfer.Job;

/**
 * The {@link ModelDownloader} service. Works without configuration (defaults) and follows configuration changes
 * without stopping running downloads: they finish with the settings they started with.
 *
 * <p>When the runtime's {@link ModelManager} is present, models go to its models folder unless another is
 * configured, and it is told to rescan when a model appears.
 */
@Designate(ocd = DownloaderConfig.class)
@Component(service = ModelDownloader.class, configurationPid = HubModelDownloader.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL)
public final class HubModelDownloader implements ModelDownloader {

    /** The configuration PID. */
    public static final String PID = "io.loadstone.download";

    private static final System.Logger LOG = System.getLogger(HubModelDownloader.class.getName());

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile ModelManager modelManager;

    private final Set<Job> running = ConcurrentHashMap.newKeySet();
    private volatile Downloader downloader;
    private volatile DownloaderConfig config;

    @Activate
    public HubModelDownloader(DownloaderConfig config) {
        this.config = config;
        this.downloader = build(config);
    }

    /** New settings apply to new requests; the old client stays with the jobs using it until they end. */
    @Modified
    void modified(DownloaderConfig newConfig) {
        this.config = newConfig;
        this.downloader = build(newConfig);
        LOG.log(Level.INFO, "Downloader reconfigured: {0}", downloader.settings());
    }

    @Deactivate
    void deactivate() {
        List<Job> jobs = List.copyOf(running);
        jobs.forEach(Job::cancel);
        for (Job j : jobs) {
            try {
                j.await(Duration.ofSeconds(10));
            } catch (DownloadException expected) {
                // cancelled: partial files are kept for a resume
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
    }

    private Downloader build(DownloaderConfig c) {
        try {
            return new Downloader(settings(c), System::getenv, running, this::published, null);
        } catch (IllegalArgumentException e) {
            // SCR logs this and keeps the service away until the configuration is fixed
            throw new IllegalArgumentException("Invalid configuration " + PID + ": " + e.getMessage(), e);
        }
    }

    private static Settings settings(DownloaderConfig c) {
        return Settings.defaults()
                .withEndpoint(URI.create(c.endpoint().isBlank() ? Settings.DEFAULT_ENDPOINT.toString()
                        : c.endpoint().strip()))
                .withToken(Optional.ofNullable(c._token()).filter(t -> !t.isBlank()))
                .withParallelFiles(Math.clamp(c.parallelFiles(), 1, 64))
                .withRetries(Math.clamp(c.retries(), 0, 100), Duration.ofSeconds(1), Duration.ofSeconds(30),
                        Duration.ofSeconds(Math.max(0, c.maxRetryAfterSeconds())))
                .withTimeouts(Duration.ofSeconds(Math.max(1, c.connectTimeoutSeconds())),
                        Duration.ofSeconds(Math.max(1, c.idleTimeoutSeconds())))
                .withFreeSpaceMargin(Math.max(0, c.freeSpaceMarginMb()) * 1024 * 1024);
    }

    private void published(Path target) {
        ModelManager mm = modelManager;
        if (mm != null) {
            mm.refresh();
        }
    }

    /** The configured folder, else the runtime's, else {@code ./models}; LoRAs next to it unless configured. */
    private Path[] dirs() {
        DownloaderConfig c = config;
        Path models;
        if (!c.modelsDir().isBlank()) {
            models = Path.of(c.modelsDir().strip());
        } else {
            ModelManager mm = modelManager;
            models = mm != null ? mm.modelsDir() : Path.of("models");
        }
        Path loras = c.lorasDir().isBlank() ? models.toAbsolutePath().normalize().resolveSibling("loras")
                : Path.of(c.lorasDir().strip());
        return new Path[] {models, loras};
    }

    @Override
    public RepoRef parse(String input) throws DownloadException {
        return downloader.parse(input);
    }

    @Override
    public List<RemoteFile> listFiles(RepoRef ref) throws DownloadException {
        return downloader.listFiles(ref);
    }

    @Override
    public DownloadPlan plan(RepoRef ref, Optional<String> file) throws DownloadException {
        Path[] dirs = dirs();
        return downloader.plan(ref, file, dirs[0], dirs[1]);
    }

    @Override
    public DownloadJob start(DownloadPlan plan, DownloadListener listener) throws DownloadException {
        return downloader.start(plan, listener);
    }

    @Override
    public List<DownloadJob> running() {
        return List.copyOf(running);
    }
}
