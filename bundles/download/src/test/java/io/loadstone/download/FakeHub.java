package io.loadstone.download;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * A Hugging Face Hub on 127.0.0.1 for tests: the tree API with {@code Link} pagination, {@code resolve} URLs that
 * serve small files directly and redirect LFS files to a CDN path (on this server or another one), {@code Range}
 * support, and faults on demand (dropped connections, ignored ranges, wrong bytes, lying checksums, error
 * statuses, stalls). Every request is recorded.
 */
public final class FakeHub implements AutoCloseable {

    /** A file in a fake repo. */
    public static final class FakeFile {
        final String path;
        final byte[] content;
        final boolean lfs;
        final String sha256;
        public volatile String claimedSha256;

        FakeFile(String path, byte[] content, boolean lfs) {
            this.path = path;
            this.content = content;
            this.lfs = lfs;
            this.sha256 = FakeHub.sha256(content);
            this.claimedSha256 = sha256;
        }

        public byte[] content() {
            return content.clone();
        }

        public String sha256() {
            return sha256;
        }
    }

    /** Something a download request gets instead of (or on top of) a normal answer. */
    public sealed interface Fault {
    }

    /** Sends headers for the whole body, then this many bytes, then drops the connection. */
    public record DropAfter(long bytes) implements Fault {
    }

    /** Answers a {@code Range} request with 200 and the whole file. */
    public record IgnoreRange() implements Fault {
    }

    /** Answers a {@code Range} request with 206 but a different start. */
    public record WrongRange() implements Fault {
    }

    /** Serves the file with the byte at {@code offset} flipped. */
    public record CorruptByte(long offset) implements Fault {
    }

    /** Answers with this status (and headers) instead of the file. */
    public record Status(int code, Map<String, String> headers) implements Fault {
    }

    /** Sends this many bytes, then waits for {@code release} (or the connection to be closed by the client). */
    public record Stall(long bytes, CountDownLatch release) implements Fault {
    }

    /** Waits (at most 20 s) for {@code latch}, then answers with {@code then}: a {@link Status}, or the file. */
    public record Hold(CountDownLatch latch, Fault then) implements Fault {
    }

    /** Waits until {@code gate} counts down to zero (other requests arriving) before answering. */
    public record Gate(CountDownLatch gate) implements Fault {
    }

    /** A request as the server saw it. */
    public record Request(String path, String query, String range, String authorization) {
    }

    private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-");

    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fake-hub");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, Map<String, Map<String, FakeFile>>> repos = new ConcurrentHashMap<>();
    private final Map<String, FakeFile> cdnObjects = new ConcurrentHashMap<>();
    private final Map<String, Deque<Fault>> faults = new ConcurrentHashMap<>();
    private final Map<String, Fault> alwaysFaults = new ConcurrentHashMap<>();
    private final Deque<Status> treeFaults = new ArrayDeque<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final AtomicInteger activeBodies = new AtomicInteger();
    private final AtomicInteger maxActiveBodies = new AtomicInteger();
    private volatile int pageSize = 1000;
    private volatile String requiredToken;
    private volatile FakeHub cdn = this;
    private volatile int chunk = 64 * 1024;

    public FakeHub() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    public URI base() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    // ---- set-up ----

    public FakeHub pageSize(int n) {
        pageSize = n;
        return this;
    }

    /** Every request must carry {@code Authorization: Bearer token}, or gets 401 GatedRepo. */
    public FakeHub requireToken(String token) {
        requiredToken = token;
        return this;
    }

    /** LFS redirects point to {@code other} (another origin) instead of this server. */
    public FakeHub lfsOn(FakeHub other) {
        cdn = other;
        return this;
    }

    /** Bytes written per write call (small values make drops and stalls land mid-file). */
    public FakeHub chunk(int bytes) {
        chunk = bytes;
        return this;
    }

    public FakeFile add(String repo, String branch, String path, byte[] content, boolean lfs) {
        FakeFile f = new FakeFile(path, content, lfs);
        repos.computeIfAbsent(repo, r -> new ConcurrentHashMap<>())
                .computeIfAbsent(branch, b -> new ConcurrentHashMap<>()).put(path, f);
        return f;
    }

    public FakeFile add(String repo, String path, byte[] content, boolean lfs) {
        return add(repo, "main", path, content, lfs);
    }

    /** A text file kept in git (no LFS). */
    public FakeFile text(String repo, String path, String content) {
        return add(repo, path, content.getBytes(StandardCharsets.UTF_8), false);
    }

    /** An LFS file of {@code size} pseudo-random bytes. */
    public FakeFile lfs(String repo, String path, int size) {
        return add(repo, path, randomBytes(path.hashCode(), size), true);
    }

    /** An LFS entry with a listed size but no content anywhere (for listing-only tests). */
    public static byte[] randomBytes(long seed, int size) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Queues faults for the next downloads of {@code path} (any repo), one per request. */
    public FakeHub fault(String path, Fault... fs) {
        Deque<Fault> q = faults.computeIfAbsent(path, p -> new ArrayDeque<>());
        synchronized (q) {
            q.addAll(List.of(fs));
        }
        return this;
    }

    /** A fault for every download of {@code path}. */
    public FakeHub always(String path, Fault f) {
        alwaysFaults.put(path, f);
        return this;
    }

    /** Queues error answers for the next tree (listing) requests. */
    public FakeHub treeFault(Status... s) {
        synchronized (treeFaults) {
            treeFaults.addAll(List.of(s));
        }
        return this;
    }

    public List<Request> requests() {
        return List.copyOf(requests);
    }

    /** Requests whose path contains {@code part}. */
    public List<Request> requests(String part) {
        return requests.stream().filter(r -> r.path().contains(part)).toList();
    }

    public int maxConcurrentBodies() {
        return maxActiveBodies.get();
    }

    // ---- serving ----

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String rawPath = ex.getRequestURI().getRawPath();
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            requests.add(new Request(rawPath, ex.getRequestURI().getRawQuery(), ex.getRequestHeaders().getFirst("Range"),
                    auth));
            if (rawPath.startsWith("/cdn-lfs/")) {
                FakeFile f = cdnObjects.get(rawPath.substring("/cdn-lfs/".length()));
                if (f == null) {
                    status(ex, 404, Map.of(), "no such object");
                    return;
                }
                serve(ex, f);
                return;
            }
            if (requiredToken != null && !("Bearer " + requiredToken).equals(auth)) {
                status(ex, 401, Map.of("X-Error-Code", "GatedRepo", "X-Error-Message",
                        "Access to model is restricted. You must have access to it and be authenticated."), "{}");
                return;
            }
            List<String> seg = new ArrayList<>();
            for (String s : rawPath.split("/")) {
                if (!s.isEmpty()) {
                    seg.add(URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8));
                }
            }
            if (seg.size() >= 6 && seg.get(0).equals("api") && seg.get(1).equals("models") && seg.get(4).equals("tree")) {
                tree(ex, seg.get(2) + "/" + seg.get(3), String.join("/", seg.subList(5, seg.size())));
                return;
            }
            if (seg.size() >= 5 && seg.get(2).equals("resolve")) {
                resolve(ex, seg.get(0) + "/" + seg.get(1), seg.get(3), String.join("/", seg.subList(4, seg.size())));
                return;
            }
            status(ex, 404, Map.of(), "not a route");
        }
    }

    private void tree(HttpExchange ex, String repo, String branch) throws IOException {
        Status fault;
        synchronized (treeFaults) {
            fault = treeFaults.poll();
        }
        if (fault != null) {
            status(ex, fault.code(), fault.headers(), "{\"error\":\"fault\"}");
            return;
        }
        Map<String, Map<String, FakeFile>> branches = repos.get(repo);
        if (branches == null) {
            status(ex, 404, Map.of("X-Error-Code", "RepoNotFound", "X-Error-Message", "Repository not found"),
                    "{\"error\":\"Repository not found\"}");
            return;
        }
        Map<String, FakeFile> files = branches.get(branch);
        if (files == null) {
            status(ex, 404, Map.of("X-Error-Code", "RevisionNotFound", "X-Error-Message", "Invalid rev id: " + branch),
                    "{\"error\":\"Invalid rev id\"}");
            return;
        }
        // Directory entries first, like the Hub's recursive listing, then files; all sorted by path.
        TreeMap<String, String> entries = new TreeMap<>();
        TreeSet<String> dirs = new TreeSet<>();
        for (FakeFile f : files.values()) {
            entries.put(f.path, entry(f));
            String p = f.path;
            while (p.contains("/")) {
                p = p.substring(0, p.lastIndexOf('/'));
                dirs.add(p);
            }
        }
        for (String d : dirs) {
            entries.put(d, "{\"type\":\"directory\",\"oid\":\"" + "0".repeat(40) + "\",\"size\":0,\"path\":\""
                    + json(d) + "\"}");
        }
        List<String> all = new ArrayList<>(entries.values());
        int cursor = 0;
        String q = ex.getRequestURI().getRawQuery();
        if (q != null) {
            Matcher m = Pattern.compile("cursor=(\\d+)").matcher(q);
            if (m.find()) {
                cursor = Integer.parseInt(m.group(1));
            }
        }
        int end = Math.min(all.size(), cursor + pageSize);
        if (end < all.size()) {
            ex.getResponseHeaders().add("Link", "<" + base() + ex.getRequestURI().getRawPath()
                    + "?recursive=true&cursor=" + end + ">; rel=\"next\"");
        }
        byte[] body = ("[" + String.join(",", all.subList(cursor, end)) + "]").getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(200, body.length);
        ex.getResponseBody().write(body);
    }

    private static String entry(FakeFile f) {
        String gitOid = sha256(f.path.getBytes(StandardCharsets.UTF_8)).substring(0, 40);
        StringBuilder b = new StringBuilder("{\"type\":\"file\",\"oid\":\"").append(gitOid).append("\",\"size\":")
                .append(f.lfs ? 134 : f.content.length).append(",\"path\":\"").append(json(f.path)).append('"');
        if (f.lfs) {
            b.append(",\"lfs\":{\"oid\":\"").append(f.claimedSha256).append("\",\"size\":").append(f.content.length)
                    .append(",\"pointerSize\":134}");
        }
        return b.append('}').toString();
    }

    private static String json(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    private void resolve(HttpExchange ex, String repo, String branch, String path) throws IOException {
        Map<String, Map<String, FakeFile>> branches = repos.get(repo);
        Map<String, FakeFile> files = branches == null ? null : branches.get(branch);
        FakeFile f = files == null ? null : files.get(path);
        if (f == null) {
            status(ex, 404, Map.of("X-Error-Code", files == null ? "RevisionNotFound" : "EntryNotFound"), "{}");
            return;
        }
        Fault fault = peekStatus(path);
        if (fault instanceof Hold h) {
            nextFault(path);
            try {
                h.latch().await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            fault = h.then();
        }
        if (fault instanceof Status s) {
            nextFault(path);
            status(ex, s.code(), s.headers(), "{\"error\":\"" + s.code() + "\"}");
            return;
        }
        if (f.lfs) {
            String key = f.sha256 + "-" + Integer.toHexString(path.hashCode());
            FakeHub target = cdn;
            target.cdnObjects.put(key, f);
            // Pre-signed-URL style: the query stands for the CDN's own credentials.
            ex.getResponseHeaders().add("Location", (target == this ? "" : target.base().toString()) + "/cdn-lfs/"
                    + key + "?X-Amz-Signature=fake");
            ex.getResponseHeaders().add("X-Linked-Size", Long.toString(f.content.length));
            ex.sendResponseHeaders(302, -1);
            return;
        }
        serve(ex, f);
    }

    private Fault peekStatus(String path) {
        Fault a = alwaysFaults.get(path);
        if (a instanceof Status) {
            return a;
        }
        Deque<Fault> q = faults.get(path);
        if (q == null) {
            return null;
        }
        synchronized (q) {
            return q.peek() instanceof Status || q.peek() instanceof Hold ? q.peek() : null;
        }
    }

    private Fault nextFault(String path) {
        Fault a = alwaysFaults.get(path);
        if (a != null) {
            return a;
        }
        Deque<Fault> q = faults.get(path);
        if (q == null) {
            return null;
        }
        synchronized (q) {
            return q.poll();
        }
    }

    /** Serves a file's bytes, honouring Range unless a fault says otherwise. */
    private void serve(HttpExchange ex, FakeFile f) throws IOException {
        FakeHub owner = this;
        Fault fault = owner.nextFaultFor(f);
        if (fault instanceof Status s) {
            status(ex, s.code(), s.headers(), "{\"error\":\"" + s.code() + "\"}");
            return;
        }
        if (fault instanceof Gate g) {
            g.gate().countDown();
            try {
                g.gate().await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        byte[] content = f.content;
        if (fault instanceof CorruptByte c && c.offset() < content.length) {
            content = content.clone();
            content[(int) c.offset()] ^= 0x5a;
        }
        long len = content.length;
        long start = 0;
        int status = 200;
        String range = ex.getRequestHeaders().getFirst("Range");
        if (range != null && !(fault instanceof IgnoreRange)) {
            Matcher m = RANGE.matcher(range);
            if (m.matches()) {
                start = Long.parseLong(m.group(1));
                if (start >= len) {
                    ex.getResponseHeaders().add("Content-Range", "bytes */" + len);
                    ex.sendResponseHeaders(416, -1);
                    return;
                }
                status = 206;
                long shown = fault instanceof WrongRange ? Math.max(0, start - 1) : start;
                ex.getResponseHeaders().add("Content-Range", "bytes " + shown + "-" + (len - 1) + "/" + len);
            }
        }
        ex.getResponseHeaders().add("Accept-Ranges", "bytes");
        ex.getResponseHeaders().add("Content-Type", "application/octet-stream");
        long bodyLength = len - start;
        ex.sendResponseHeaders(status, bodyLength == 0 ? -1 : bodyLength);
        int now = activeBodies.incrementAndGet();
        maxActiveBodies.accumulateAndGet(now, Math::max);
        try {
            OutputStream out = ex.getResponseBody();
            long limit = bodyLength;
            if (fault instanceof DropAfter d) {
                limit = Math.min(bodyLength, d.bytes());
            }
            if (fault instanceof Stall s) {
                limit = Math.min(bodyLength, s.bytes());
            }
            long sent = 0;
            while (sent < limit) {
                int n = (int) Math.min(chunk, limit - sent);
                out.write(content, (int) (start + sent), n);
                sent += n;
            }
            out.flush();
            if (fault instanceof Stall s) {
                try {
                    s.release().await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw new IOException("stall over: dropping the connection");
            }
            if (fault instanceof DropAfter) {
                throw new IOException("dropping the connection on purpose");
            }
        } finally {
            activeBodies.decrementAndGet();
        }
    }

    private Fault nextFaultFor(FakeFile f) {
        return nextFault(f.path);
    }

    private static void status(HttpExchange ex, int code, Map<String, String> headers, String body)
            throws IOException {
        headers.forEach((k, v) -> ex.getResponseHeaders().add(k, v));
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(code, b.length == 0 ? -1 : b.length);
        if (b.length > 0) {
            ex.getResponseBody().write(b);
        }
    }

    public static String sha256(byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
