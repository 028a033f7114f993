package io.loadstone.download.hub;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandler;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse.BodySubscribers;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.RemoteFile;
import io.loadstone.download.RepoRef;

/**
 * Talks to the Hub: lists a repo's files (following {@code Link: <…>; rel="next"} pagination) and sends
 * download requests, following redirects itself so that the {@link HubEndpoint token rule} is applied to
 * every hop (the JDK client would copy the {@code Authorization} header to any redirect target).
 */
public final class HubClient {

    private static final System.Logger LOG = System.getLogger(HubClient.class.getName());
    private static final int MAX_REDIRECTS = 10;
    private static final int MAX_PAGES = 10_000;
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Pattern LINK = Pattern.compile("<([^>]*)>((?:\\s*;\\s*[^;,]*)*)");
    private static final Pattern REL_NEXT = Pattern.compile(";\\s*rel\\s*=\\s*\"?([^\";]*)\"?");
    private static final String USER_AGENT = "loadstone-download/1.0 (+https://github.com/loadstone)";

    private final HttpClient http;
    private final HubEndpoint endpoint;
    private final RetryPolicy retry;
    private final Duration idleTimeout;

    public HubClient(HttpClient http, HubEndpoint endpoint, RetryPolicy retry, Duration idleTimeout) {
        this.http = http;
        this.endpoint = endpoint;
        this.retry = retry;
        this.idleTimeout = idleTimeout;
    }

    public HubEndpoint endpoint() {
        return endpoint;
    }

    public RetryPolicy retryPolicy() {
        return retry;
    }

    public Duration idleTimeout() {
        return idleTimeout;
    }

    /** A final (non-redirect) response and the URL that gave it. */
    public record Response<T>(int status, HttpHeaders headers, T body, URI uri) {
    }

    /**
     * Sends a GET to {@code start} and follows redirects (at most 10), adding the token only where the token
     * rule allows. Redirect bodies are discarded; {@code handler} sees only the final response.
     *
     * @param onRequest told each URL as it is requested (for logging by callers and tests), may be null
     * @throws CancellationException when the watchdog reports a cancel
     * @throws IOException network errors, including {@link Watchdog.IdleTimeoutException}
     */
    public <T> Response<T> get(URI start, Map<String, String> headers, BodyHandler<T> handler, Watchdog watchdog,
            Consumer<URI> onRequest) throws IOException, InterruptedException {
        URI uri = start;
        for (int hop = 0; ; hop++) {
            HttpRequest.Builder b = HttpRequest.newBuilder(uri).GET().header("User-Agent", USER_AGENT);
            headers.forEach(b::header);
            endpoint.authorizationFor(uri).ifPresent(v -> b.header("Authorization", v));
            if (onRequest != null) {
                onRequest.accept(uri);
            }
            watchdog.touch();
            BodyHandler<T> wrapped = info -> isRedirect(info.statusCode()) && info.headers().firstValue("Location")
                    .isPresent() ? discard() : handler.apply(info);
            CompletableFuture<HttpResponse<T>> future = http.sendAsync(b.build(), wrapped);
            HttpResponse<T> response = await(future, watchdog);
            int status = response.statusCode();
            Optional<String> location = response.headers().firstValue("Location");
            if (!isRedirect(status) || location.isEmpty()) {
                return new Response<>(status, response.headers(), response.body(), uri);
            }
            if (hop >= MAX_REDIRECTS) {
                throw new IOException("more than " + MAX_REDIRECTS + " redirects from " + start);
            }
            URI next = resolveRedirect(uri, location.get());
            LOG.log(Level.DEBUG, "{0} redirects to {1}{2}", uri, redactQuery(next),
                    endpoint.mayReceiveToken(next) ? "" : " (no token sent there)");
            uri = next;
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> HttpResponse.BodySubscriber<T> discard() {
        return (HttpResponse.BodySubscriber<T>) BodySubscribers.discarding();
    }

    private static boolean isRedirect(int status) {
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    }

    private static URI resolveRedirect(URI current, String location) throws IOException {
        URI next;
        try {
            next = current.resolve(new URI(location.strip()));
        } catch (URISyntaxException | IllegalArgumentException e) {
            throw new IOException("the server redirected to an invalid URL: " + e.getMessage());
        }
        String scheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || next.getHost() == null) {
            throw new IOException("the server redirected to an unsupported URL: " + redactQuery(next));
        }
        return next;
    }

    /** Pre-signed CDN URLs carry credentials in the query; logs get the URL without it. */
    static String redactQuery(URI uri) {
        return uri.getRawQuery() == null ? uri.toString()
                : uri.toString().substring(0, uri.toString().indexOf('?')) + "?…";
    }

    private static <T> HttpResponse<T> await(CompletableFuture<HttpResponse<T>> future, Watchdog watchdog)
            throws IOException, InterruptedException {
        try {
            while (true) {
                try {
                    return future.get(POLL.toMillis(), TimeUnit.MILLISECONDS);
                } catch (TimeoutException stillRunning) {
                    try {
                        watchdog.check();
                    } catch (CancellationException | Watchdog.IdleTimeoutException e) {
                        future.cancel(true);
                        throw e;
                    }
                }
            }
        } catch (InterruptedException e) {
            future.cancel(true);
            throw e;
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof CancellationException c) {
                throw c;
            }
            if (cause instanceof UncheckedIOException u) {
                throw u.getCause();
            }
            throw new IOException(cause == null ? e.toString() : cause.toString(), cause);
        }
    }

    /** An I/O error raised inside a body subscriber (local disk errors), kept apart from network errors. */
    public static final class UncheckedIOException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public UncheckedIOException(IOException cause) {
            super(cause);
        }

        @Override
        public synchronized IOException getCause() {
            return (IOException) super.getCause();
        }
    }

    /**
     * Every file of {@code ref} (subfolders included), following the Hub's pagination. File names are
     * checked here, once, so nothing downstream ever sees an unsafe path.
     */
    public List<RemoteFile> listFiles(RepoRef ref, Pause pause, Watchdog watchdog)
            throws DownloadException, InterruptedException {
        Map<String, RemoteFile> files = new LinkedHashMap<>();
        Set<URI> seen = new HashSet<>();
        URI page = endpoint.treeUri(ref);
        int pages = 0;
        while (page != null) {
            if (!seen.add(page) || ++pages > MAX_PAGES) {
                throw new DownloadException(Reason.NETWORK, "The Hub's file list for " + ref + " does not end"
                        + " (page " + pages + " repeats or exceeds " + MAX_PAGES + "): try again later");
            }
            Response<String> response = fetchPage(ref, page, pause, watchdog);
            for (RemoteFile f : parsePage(ref, response.body())) {
                files.putIfAbsent(f.path(), f);
            }
            page = nextPage(ref, response);
        }
        LOG.log(Level.DEBUG, "{0}: {1} files in {2} page(s)", ref, files.size(), pages);
        return List.copyOf(files.values());
    }

    private Response<String> fetchPage(RepoRef ref, URI page, Pause pause, Watchdog watchdog)
            throws DownloadException, InterruptedException {
        int attempt = 0;
        while (true) {
            attempt++;
            String failure;
            Optional<Duration> asked = Optional.empty();
            try {
                Response<String> r = get(page, Map.of("Accept", "application/json"), BodyHandlers.ofString(),
                        watchdog, null);
                if (r.status() == 200) {
                    return r;
                }
                if (!HubErrors.isTransient(r.status()) || attempt > retry.retries()) {
                    throw HubErrors.toException(r.status(), r.headers(), r.body(), r.uri(), endpoint, ref,
                            Optional.empty());
                }
                failure = "HTTP " + r.status();
                asked = HubErrors.retryAfter(r.headers(), Instant.now());
                if (asked.isPresent() && asked.get().compareTo(retry.maxRetryAfter()) > 0) {
                    throw HubErrors.toException(r.status(), r.headers(), r.body(), r.uri(), endpoint, ref,
                            Optional.empty());
                }
            } catch (CancellationException e) {
                throw new DownloadException(Reason.CANCELLED, "Listing " + ref + " was cancelled");
            } catch (IOException e) {
                failure = describe(e);
                if (attempt > retry.retries()) {
                    throw new DownloadException(Reason.NETWORK, "Could not get the file list of " + ref + " from "
                            + endpoint.base() + " after " + attempt + " attempts: " + failure
                            + "; check the network connection (and HF_ENDPOINT, if set)", e);
                }
            }
            Duration wait = asked.isPresent() ? asked.get() : retry.backoff(attempt);
            LOG.log(Level.DEBUG, "Listing {0}: {1}; retry {2} in {3} ms", ref, failure, attempt, wait.toMillis());
            if (!pause.pause(wait)) {
                throw new DownloadException(Reason.CANCELLED, "Listing " + ref + " was cancelled");
            }
        }
    }

    /** A short description of a network error for messages ("connection reset", "timed out"). */
    public static String describe(IOException e) {
        String m = e.getMessage();
        String type = e.getClass().getSimpleName();
        if (e instanceof java.net.http.HttpTimeoutException || e instanceof Watchdog.IdleTimeoutException) {
            return "timed out" + (m == null ? "" : " (" + m + ")");
        }
        if (e instanceof java.net.ConnectException) {
            return "cannot connect" + (m == null ? "" : " (" + m + ")");
        }
        return m == null || m.isBlank() ? type : m;
    }

    private List<RemoteFile> parsePage(RepoRef ref, String body) throws DownloadException {
        JsonArray array;
        try {
            JsonElement root = JsonParser.parseString(body);
            if (!root.isJsonArray()) {
                throw new JsonParseException("not a JSON array");
            }
            array = root.getAsJsonArray();
        } catch (JsonParseException | IllegalStateException e) {
            throw new DownloadException(Reason.NETWORK, "The Hub's file list for " + ref + " is not the expected"
                    + " JSON (" + e.getMessage() + "); is " + endpoint.base() + " a Hugging Face Hub?", e);
        }
        List<RemoteFile> files = new ArrayList<>();
        for (JsonElement e : array) {
            if (!e.isJsonObject()) {
                continue;
            }
            JsonObject o = e.getAsJsonObject();
            String type = string(o, "type").orElse("file");
            if (!type.equals("file")) {
                continue; // directories (recursive listing names their files separately)
            }
            String path = string(o, "path").orElseThrow(() -> new DownloadException(Reason.NETWORK,
                    "The Hub's file list for " + ref + " has an entry without a path"));
            String problem = RepoRef.filePathProblem(path);
            if (problem != null) {
                throw new DownloadException(Reason.UNSAFE_PATH, "The Hub's file list for " + ref
                        + " contains an unsafe file name: " + problem + ". It could be written outside the model"
                        + " folder, so nothing from this repository is downloaded.");
            }
            Optional<String> sha256 = Optional.empty();
            long size = number(o, "size").orElse(-1L);
            if (o.has("lfs") && o.get("lfs").isJsonObject()) {
                JsonObject lfs = o.getAsJsonObject("lfs");
                Optional<String> oid = string(lfs, "oid").or(() -> string(lfs, "sha256"));
                if (oid.isEmpty() || !oid.get().matches("[0-9a-fA-F]{64}")) {
                    throw new DownloadException(Reason.INTEGRITY, "The Hub's file list for " + ref + " gives '"
                            + oid.orElse("") + "' as the SHA-256 of " + path + ", which is not a SHA-256");
                }
                sha256 = Optional.of(oid.get().toLowerCase(Locale.ROOT));
                size = number(lfs, "size").orElse(size);
            }
            if (size < 0) {
                throw new DownloadException(Reason.NETWORK, "The Hub's file list for " + ref + " gives no size for "
                        + path);
            }
            files.add(new RemoteFile(path, size, sha256));
        }
        return files;
    }

    private URI nextPage(RepoRef ref, Response<String> response) throws DownloadException {
        for (String header : response.headers().allValues("Link")) {
            Matcher m = LINK.matcher(header);
            while (m.find()) {
                Matcher rel = REL_NEXT.matcher(m.group(2));
                while (rel.find()) {
                    for (String r : rel.group(1).strip().split("\\s+")) {
                        if (r.equalsIgnoreCase("next")) {
                            URI next;
                            try {
                                next = response.uri().resolve(new URI(m.group(1).strip()));
                            } catch (URISyntaxException | IllegalArgumentException e) {
                                throw new DownloadException(Reason.NETWORK, "The Hub's file list for " + ref
                                        + " points to an invalid next page: " + m.group(1));
                            }
                            if (!HubEndpoint.sameOrigin(endpoint.base(), next)) {
                                // The listing is fetched with the token: never follow it to another host.
                                throw new DownloadException(Reason.NETWORK, "The Hub's file list for " + ref
                                        + " points to a next page on another host (" + redactQuery(next)
                                        + "); refusing to follow it");
                            }
                            return next;
                        }
                    }
                }
            }
        }
        return null;
    }

    private static Optional<String> string(JsonObject o, String key) {
        JsonElement e = o.get(key);
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() ? Optional.of(e.getAsString())
                : Optional.empty();
    }

    private static Optional<Long> number(JsonObject o, String key) {
        JsonElement e = o.get(key);
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            return Optional.empty();
        }
        try {
            return Optional.of(e.getAsLong());
        } catch (NumberFormatException ex) {
            return Optional.empty();
        }
    }
}
