package io.loadstone.download.hub;

import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
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
 * Talks to the Hub: lists a repo's files (following {@code Link: <…>; rel="next"} pagination) and opens download
 * responses. It follows redirects itself so that the {@link HubEndpoint token rule} is applied to every hop.
 *
 * <p>It uses the JDK's blocking {@link HttpURLConnection} (HTTP/1.1, one connection per file): on the same
 * machine it moved bytes about twice as fast as {@code java.net.http.HttpClient}, whose 16 KiB buffers and
 * thread hand-offs cost more than hashing; reads land straight in the downloader's blocks. The connect timeout
 * bounds connecting, the idle timeout bounds every read (a server that goes silent mid-file), and a
 * {@link Cancellation} interrupts the (virtual) worker threads, which closes their sockets at once.
 */
public final class HubClient {

    private static final System.Logger LOG = System.getLogger(HubClient.class.getName());
    private static final int MAX_REDIRECTS = 10;
    private static final int MAX_PAGES = 10_000;
    private static final int MAX_ERROR_BODY = 64 * 1024;
    private static final int MAX_PAGE_BYTES = 64 * 1024 * 1024;
    private static final Pattern LINK = Pattern.compile("<([^>]*)>((?:\\s*;\\s*[^;,]*)*)");
    private static final Pattern REL_NEXT = Pattern.compile(";\\s*rel\\s*=\\s*\"?([^\";]*)\"?");
    private static final String USER_AGENT = "loadstone-download/1.0";

    private final HubEndpoint endpoint;
    private final RetryPolicy retry;
    private final Duration connectTimeout;
    private final Duration idleTimeout;

    public HubClient(HubEndpoint endpoint, RetryPolicy retry, Duration connectTimeout, Duration idleTimeout) {
        this.endpoint = endpoint;
        this.retry = retry;
        this.connectTimeout = connectTimeout;
        this.idleTimeout = idleTimeout;
    }

    public HubEndpoint endpoint() {
        return endpoint;
    }

    public RetryPolicy retryPolicy() {
        return retry;
    }

    /** A final (non-redirect) response: status, headers, body stream; close it when done. */
    public static final class Response implements AutoCloseable {
        private final HttpURLConnection connection;
        private final int status;
        private final Headers headers;
        private final URI uri;

        Response(HttpURLConnection connection, int status, URI uri) {
            this.connection = connection;
            this.status = status;
            this.headers = Headers.of(connection.getHeaderFields());
            this.uri = uri;
        }

        public int status() {
            return status;
        }

        public Headers headers() {
            return headers;
        }

        public URI uri() {
            return uri;
        }

        /** The body (for error statuses, the error body, possibly empty). */
        public InputStream body() throws IOException {
            InputStream in = status < 400 ? connection.getInputStream() : connection.getErrorStream();
            return in == null ? InputStream.nullInputStream() : in;
        }

        /** The body as text, at most 64 KiB (error messages, JSON pages are read with {@link #text(int)}). */
        public String errorText() {
            try {
                return text(MAX_ERROR_BODY);
            } catch (IOException e) {
                return "";
            }
        }

        /** The body as UTF-8 text; fails when it is longer than {@code max} bytes. */
        public String text(int max) throws IOException {
            try (InputStream in = body()) {
                byte[] b = in.readNBytes(max + 1);
                if (b.length > max) {
                    throw new IOException("response from " + redactQuery(uri) + " is larger than " + max + " bytes");
                }
                return new String(b, StandardCharsets.UTF_8);
            }
        }

        @Override
        public void close() {
            try {
                body().close();
            } catch (IOException ignored) {
                connection.disconnect();
            }
        }

        /**
         * Drops the connection (a body not read to its end is not worth keeping alive). Only from the thread
         * reading it: from another thread this would wait for a blocked read (see {@link Cancellation}).
         */
        public void abort() {
            connection.disconnect();
        }
    }

    /**
     * Sends a GET to {@code start} and follows redirects (at most 10), adding the token only where the token
     * rule allows.
     *
     * @param onRequest told each URL as it is requested, may be null
     * @throws CancellationException when cancelled
     * @throws IOException network errors, including timeouts ({@link java.net.SocketTimeoutException})
     */
    public Response open(URI start, Map<String, String> headers, Consumer<URI> onRequest, Cancellation cancellation)
            throws IOException {
        URI uri = start;
        for (int hop = 0; ; hop++) {
            cancellation.check();
            HttpURLConnection c = (HttpURLConnection) uri.toURL().openConnection();
            c.setInstanceFollowRedirects(false);
            c.setUseCaches(false);
            c.setConnectTimeout((int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()));
            c.setReadTimeout((int) Math.min(Integer.MAX_VALUE, idleTimeout.toMillis()));
            c.setRequestProperty("User-Agent", USER_AGENT);
            c.setRequestProperty("Accept-Encoding", "identity");
            c.setRequestProperty("Accept", "*/*");
            headers.forEach(c::setRequestProperty);
            Optional<String> auth = endpoint.authorizationFor(uri);
            auth.ifPresent(v -> c.setRequestProperty("Authorization", v));
            if (onRequest != null) {
                onRequest.accept(uri);
            }
            int status;
            try {
                status = c.getResponseCode();
            } catch (IOException | RuntimeException e) {
                c.disconnect();
                cancellation.check();
                throw e instanceof IOException io ? io : new IOException(e.getMessage(), e);
            }
            Response r = new Response(c, status, uri);
            Optional<String> location = r.headers().first("Location");
            if (!isRedirect(status) || location.isEmpty()) {
                return r;
            }
            r.errorText(); // read the small redirect body so the connection can be reused
            r.close();
            if (hop >= MAX_REDIRECTS) {
                throw new IOException("more than " + MAX_REDIRECTS + " redirects from " + start);
            }
            URI next = resolveRedirect(uri, location.get());
            LOG.log(Level.DEBUG, "{0} redirects to {1}{2}", redactQuery(uri), redactQuery(next),
                    endpoint.mayReceiveToken(next) ? "" : " (no token sent there)");
            uri = next;
        }
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
    public static String redactQuery(URI uri) {
        String s = uri.toString();
        int q = s.indexOf('?');
        return q < 0 ? s : s.substring(0, q) + "?…";
    }

    /**
     * Every file of {@code ref} (subfolders included), following the Hub's pagination. File names are
     * checked here, once, so nothing downstream ever sees an unsafe path.
     */
    public List<RemoteFile> listFiles(RepoRef ref, Pause pause, Cancellation cancellation)
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
            Page response = fetchPage(ref, page, pause, cancellation);
            for (RemoteFile f : parsePage(ref, response.body())) {
                files.putIfAbsent(f.path(), f);
            }
            page = nextPage(ref, response);
        }
        LOG.log(Level.DEBUG, "{0}: {1} files in {2} page(s)", ref, files.size(), pages);
        return List.copyOf(files.values());
    }

    /** One page of the listing. */
    private record Page(Headers headers, String body, URI uri) {
    }

    private Page fetchPage(RepoRef ref, URI page, Pause pause, Cancellation cancellation)
            throws DownloadException, InterruptedException {
        int attempt = 0;
        while (true) {
            attempt++;
            String failure;
            Optional<Duration> asked = Optional.empty();
            try (Response r = open(page, Map.of("Accept", "application/json"), null, cancellation)) {
                if (r.status() == 200) {
                    return new Page(r.headers(), r.text(MAX_PAGE_BYTES), r.uri());
                }
                String body = r.errorText();
                if (!HubErrors.isTransient(r.status()) || attempt > retry.retries()) {
                    throw HubErrors.toException(r.status(), r.headers(), body, r.uri(), endpoint, ref,
                            Optional.empty());
                }
                failure = "HTTP " + r.status();
                asked = HubErrors.retryAfter(r.headers(), Instant.now());
                if (asked.isPresent() && asked.get().compareTo(retry.maxRetryAfter()) > 0) {
                    throw HubErrors.toException(r.status(), r.headers(), body, r.uri(), endpoint, ref,
                            Optional.empty());
                }
            } catch (CancellationException e) {
                throw new DownloadException(Reason.CANCELLED, "Listing " + ref + " was cancelled");
            } catch (java.net.UnknownHostException e) {
                throw HubErrors.unresolved(page, e);
            } catch (IOException e) {
                if (cancellation.isCancelled()) {
                    throw new DownloadException(Reason.CANCELLED, "Listing " + ref + " was cancelled");
                }
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
        if (e instanceof java.net.SocketTimeoutException) {
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

    private URI nextPage(RepoRef ref, Page response) throws DownloadException {
        for (String header : response.headers().all("Link")) {
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
