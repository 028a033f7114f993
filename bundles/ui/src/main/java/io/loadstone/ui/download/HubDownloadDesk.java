package io.loadstone.ui.download;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;


import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import io.loadstone.api.runtime.ByteSize;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.download.DownloadEvent;
import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadJob;
import io.loadstone.download.DownloadPlan;
import io.loadstone.download.GgufChoice;
import io.loadstone.download.ModelDownloader;
import io.loadstone.download.RemoteFile;
import io.loadstone.download.RepoRef;
import io.loadstone.ui.http.ApiException;
import io.loadstone.ui.web.PageEvents;

/**
 * The download box backed by the download bundle's {@link ModelDownloader}. Only {@link DownloadServlet} makes
 * one, and only once a downloader is registered, so without the download bundle this class (the one place
 * that links against that bundle's package) is never loaded. Each job's events go to every open page as
 * {@code download} server-sent events.
 */
final class HubDownloadDesk implements DownloadDesk {

    private static final Logger LOG = System.getLogger(HubDownloadDesk.class.getName());
    /** Finished jobs kept for the list, so a page opened after a download still sees how it ended. */
    private static final int KEEP_FINISHED = 20;
    /** Progress events more often than this are not pushed (the downloader sends about two a second). */
    private static final long PUSH_EVERY_NANOS = 400_000_000L;

    private final ModelDownloader downloader;
    private final PageEvents pages;
    /** Refreshes the models list when a download lands (the core's folder watcher may be slower or off). */
    private final Supplier<ModelManager> manager;

    private final Map<String, Entry> jobs = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();

    /** One job as the page sees it; updated from the job's listener thread, read by requests. */
    private final class Entry {
        final String id;
        final Instant started = Instant.now();
        final DownloadPlan plan;
        volatile DownloadJob job;
        volatile DownloadEvent.Progress progress;
        volatile String state = "running";
        volatile String message;
        volatile String target;
        volatile Instant finished;
        volatile long lastPush;

        Entry(String id, DownloadPlan plan) {
            this.id = id;
            this.plan = plan;
        }

        void onEvent(DownloadEvent e) {
            switch (e) {
                case DownloadEvent.Progress p -> {
                    progress = p;
                    long now = System.nanoTime();
                    if (now - lastPush < PUSH_EVERY_NANOS) {
                        return;
                    }
                    lastPush = now;
                }
                case DownloadEvent.FileVerified f -> {
                    return;
                }
                case DownloadEvent.Retrying r -> message = "Retrying " + r.path() + " in " + r.delay().toSeconds()
                        + " s (attempt " + r.attempt() + "): " + r.reason();
                case DownloadEvent.Completed c -> {
                    state = "done";
                    target = c.target().toString();
                    message = c.alreadyPresent() ? "Already downloaded: " + c.target() + "."
                            : String.format(Locale.ROOT, "Downloaded %s (%s) to %s in %.1f s.", plan.ref(),
                                    ByteSize.format(c.bytesFetched()), c.target(),
                                    c.elapsed().toMillis() / 1000.0);
                    finished = Instant.now();
                    ModelManager m = manager.get();
                    if (m != null) {
                        try {
                            m.refresh();
                        } catch (RuntimeException ex) {
                            LOG.log(Level.WARNING, "Model list refresh after a download failed", ex);
                        }
                    }
                }
                case DownloadEvent.Failed f -> {
                    state = "failed";
                    message = f.message();
                    finished = Instant.now();
                }
                case DownloadEvent.Cancelled c -> {
                    state = "cancelled";
                    message = "Cancelled " + plan.ref() + ". The partial files are kept: Download again to resume.";
                    finished = Instant.now();
                }
            }
            pages.publish("download", json().toString());
        }

        JsonObject json() {
            JsonObject o = new JsonObject();
            o.addProperty("id", id);
            o.addProperty("repo", plan.ref().toString());
            o.addProperty("target", target != null ? target : plan.target().toString());
            o.addProperty("lora", plan.lora());
            o.addProperty("state", state);
            o.addProperty("started", started.toString());
            if (finished != null) {
                o.addProperty("finished", finished.toString());
            }
            if (message != null) {
                o.addProperty("message", message);
            }
            o.addProperty("filesTotal", plan.files().size());
            DownloadEvent.Progress p = progress;
            long total = plan.totalBytes();
            long bytes = state.equals("done") ? total : 0;
            double rate = 0;
            Optional<Duration> eta = Optional.empty();
            int filesDone = state.equals("done") ? plan.files().size() : 0;
            if (p != null) {
                bytes = state.equals("done") ? total : p.total().bytes();
                total = p.total().size();
                rate = p.total().bytesPerSecond();
                eta = p.total().eta();
                filesDone = state.equals("done") ? p.filesTotal() : p.filesDone();
                JsonArray active = new JsonArray();
                for (DownloadEvent.Transfer t : p.active()) {
                    JsonObject a = new JsonObject();
                    a.addProperty("name", t.name());
                    a.addProperty("bytes", t.bytes());
                    a.addProperty("size", t.size());
                    active.add(a);
                }
                o.add("active", active);
            }
            o.addProperty("bytes", bytes);
            o.addProperty("totalBytes", total);
            o.addProperty("fraction", total <= 0 ? (state.equals("done") ? 1.0 : 0.0) : Math.min(1.0,
                    (double) bytes / total));
            o.addProperty("bytesPerSecond", rate);
            eta.ifPresent(d -> o.addProperty("etaSeconds", d.toSeconds()));
            o.addProperty("filesDone", filesDone);
            return o;
        }
    }

    /**
     * @param downloader the {@link ModelDownloader} service, typed {@code Object} so that the caller need not
     *                   link against the download bundle
     */
    HubDownloadDesk(Object downloader, PageEvents pages, Supplier<ModelManager> manager) {
        this.downloader = (ModelDownloader) downloader;
        this.pages = pages;
        this.manager = manager;
    }

    @Override
    public JsonObject files(String input) throws ApiException {
        try {
            RepoRef ref = downloader.parse(input);
            List<RemoteFile> files = downloader.listFiles(ref.withoutFile());
            JsonObject o = new JsonObject();
            o.addProperty("repo", ref.repo());
            o.addProperty("branch", ref.branch());
            JsonArray list = new JsonArray();
            long total = 0;
            for (RemoteFile f : files) {
                JsonObject j = new JsonObject();
                j.addProperty("path", f.path());
                j.addProperty("size", f.size());
                j.addProperty("gguf", f.path().toLowerCase(Locale.ROOT).endsWith(".gguf"));
                list.add(j);
                total += f.size();
            }
            o.add("files", list);
            o.addProperty("totalBytes", total);
            return o;
        } catch (DownloadException e) {
            throw toApi(e);
        }
    }

    @Override
    public JsonObject start(String input, String file) throws ApiException, ChoiceNeeded {
        try {
            RepoRef ref = downloader.parse(input);
            Optional<String> chosen = file == null || file.isBlank() ? Optional.empty() : Optional.of(file.strip());
            DownloadPlan plan = downloader.plan(ref, chosen);
            if (plan.needsChoice()) {
                JsonArray choices = new JsonArray();
                for (GgufChoice c : plan.ggufChoices()) {
                    JsonObject j = new JsonObject();
                    j.addProperty("file", c.file());
                    j.addProperty("size", c.size());
                    j.addProperty("parts", c.parts().size());
                    choices.add(j);
                }
                throw new ChoiceNeeded(plan.describe(), choices);
            }
            String id = Long.toString(ids.incrementAndGet());
            Entry entry = new Entry(id, plan);
            jobs.put(id, entry);
            try {
                entry.job = downloader.start(plan, entry::onEvent);
            } catch (DownloadException e) {
                jobs.remove(id);
                throw e;
            }
            prune();
            JsonObject o = entry.json();
            o.addProperty("description", plan.describe());
            pages.publish("download", entry.json().toString());
            return o;
        } catch (DownloadException e) {
            throw toApi(e);
        }
    }

    @Override
    public JsonObject list() {
        List<Entry> all = new ArrayList<>(jobs.values());
        all.sort((a, b) -> b.started.compareTo(a.started));
        JsonArray arr = new JsonArray();
        for (Entry e : all) {
            arr.add(e.json());
        }
        JsonObject o = new JsonObject();
        o.addProperty("available", true);
        o.add("jobs", arr);
        return o;
    }

    @Override
    public JsonObject cancel(String id) throws ApiException {
        Entry e = jobs.get(id);
        if (e == null) {
            throw ApiException.notFound("download_not_found", "No download with id '" + id
                    + "'. GET /ui/api/downloads lists them.");
        }
        DownloadJob job = e.job;
        if (job != null) {
            job.cancel();
        }
        JsonObject o = e.json();
        o.addProperty("message", job != null && !job.isDone() || e.state.equals("running")
                ? "Cancelling " + e.plan.ref() + "." : "The download of " + e.plan.ref() + " had already ended.");
        return o;
    }

    /** Drops the oldest finished jobs beyond {@link #KEEP_FINISHED}. */
    private void prune() {
        List<Entry> done = new ArrayList<>(jobs.values().stream().filter(e -> e.finished != null).toList());
        done.sort((a, b) -> a.finished.compareTo(b.finished));
        for (int i = 0; i < done.size() - KEEP_FINISHED; i++) {
            jobs.remove(done.get(i).id);
        }
    }

    /** The downloader's reasons as HTTP statuses; the message (repo, file, fix) goes to the user unchanged. */
    static ApiException toApi(DownloadException e) {
        int status = switch (e.reason()) {
            case INVALID_INPUT, UNSAFE_PATH -> 400;
            case UNAUTHORIZED -> 401;
            case NOT_FOUND -> 404;
            case CHOICE_NEEDED, ALREADY_EXISTS, BUSY, CANCELLED -> 409;
            case RATE_LIMITED -> 429;
            case NETWORK, INTEGRITY -> 502;
            case DISK_SPACE -> 507;
            case IO -> 500;
        };
        // "hub_" codes: the page must not take the Hub's 401 for its own API key prompt.
        String code = "hub_" + e.reason().name().toLowerCase(Locale.ROOT);
        String type = status >= 500 ? "server_error" : "invalid_request_error";
        return new ApiException(status, type, code, null, e.getMessage());
    }
}
