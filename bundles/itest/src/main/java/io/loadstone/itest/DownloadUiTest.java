package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelManager;

/**
 * The Model tab's "Download model or LoRA" box over real HTTP, against a tiny fake Hugging Face Hub on
 * 127.0.0.1 that serves the real stories260K.gguf: file list, the GGUF choice (409), a download that lands
 * in the models folder, shows up in the page's model list and loads with llama.cpp, a missing repo (404) and
 * a listing with a {@code ../} file name (400, nothing fetched or written).
 */
class DownloadUiTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    private HttpServer hub;
    private ExecutorService hubThreads;
    /** 4 MiB served in 64 KiB pieces 40 ms apart (about 2.5 s): long enough to watch and cancel. */
    private static final byte[] SLOW = slowBytes();
    private static final String SLOW_SHA = sha(SLOW);
    private byte[] gguf;
    private String sha256;
    /** Requests per path the fake Hub has answered. */
    private final Map<String, AtomicInteger> hits = new ConcurrentHashMap<>();
    private Path models;
    private ModelManager manager;
    private WebServer web;

    @BeforeEach
    void setUp() throws Exception {
        Assumptions.assumeTrue(System.getenv("HF_ENDPOINT") == null,
                "HF_ENDPOINT is set and would win over the fake Hub's endpoint; unset it to run this test");
        gguf = Files.readAllBytes(Framework.testBundle("stories260K.gguf"));
        sha256 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(gguf));
        hub = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        hub.createContext("/", this::serve);
        // Threads per request: the slow file must not hold up the listing calls.
        hubThreads = Executors.newCachedThreadPool();
        hub.setExecutor(hubThreads);
        hub.start();

        models = Framework.workDir("download-models");
        manager = Framework.service(ModelManager.class, WAIT);
        Framework.configure("io.loadstone.core", Framework.props("models.dir", models.toString()));
        Framework.await("models folder configured", WAIT, () -> manager.modelsDir().equals(models));
        String endpoint = "http://127.0.0.1:" + hub.getAddress().getPort();
        Framework.configure("io.loadstone.download", Framework.props("endpoint", endpoint, "modelsDir",
                models.toString(), "freeSpaceMarginMb", 1L, "retries", 1));
        web = WebServer.start();
        // The downloader restarts with the new configuration; wait until the page API reaches this Hub.
        Framework.await("download endpoints talking to the fake Hub", WAIT, () -> {
            try {
                return web.post("ui/api/download/files", "{\"repo\":\"tiny/two-GGUF\"}").statusCode() == 200;
            } catch (IOException | InterruptedException e) {
                return false;
            }
        });
    }

    @AfterEach
    void tearDown() throws Exception {
        if (manager != null) {
            for (var s : manager.loaded()) {
                manager.unload(s.name());
            }
        }
        if (hub != null) {
            hub.stop(0);
            hubThreads.shutdownNow();
        }
    }

    /** The Hub's tree listing and file endpoints for three repos, and 404 for everything else. */
    private void serve(HttpExchange x) throws IOException {
        String path = x.getRequestURI().getPath();
        hits.computeIfAbsent(path, p -> new AtomicInteger()).incrementAndGet();
        try (x) {
            switch (path) {
                case "/api/models/tiny/two-GGUF/tree/main" -> json(x, "[" + lfsEntry("stories-a.gguf") + ","
                        + lfsEntry("stories-b.gguf") + ",{\"type\":\"file\",\"path\":\"README.md\",\"size\":5}]");
                case "/api/models/tiny/slow-GGUF/tree/main" -> json(x, "[{\"type\":\"file\",\"path\":\"slow.gguf\","
                        + "\"size\":" + SLOW.length + ",\"lfs\":{\"oid\":\"" + SLOW_SHA + "\",\"size\":" + SLOW.length
                        + "}}]");
                case "/tiny/slow-GGUF/resolve/main/slow.gguf" -> slowly(x);
                case "/api/models/tiny/evil/tree/main" -> json(x, "[" + lfsEntry("../evil.gguf") + "]");
                case "/tiny/two-GGUF/resolve/main/stories-a.gguf", "/tiny/two-GGUF/resolve/main/stories-b.gguf" ->
                        bytes(x, gguf);
                case "/tiny/two-GGUF/resolve/main/README.md" -> bytes(x, "hello".getBytes(StandardCharsets.UTF_8));
                default -> {
                    x.getResponseHeaders().add("X-Error-Code", "RepoNotFound");
                    x.getResponseHeaders().add("Content-Type", "application/json");
                    byte[] b = "{\"error\":\"Repository not found\"}".getBytes(StandardCharsets.UTF_8);
                    x.sendResponseHeaders(404, b.length);
                    x.getResponseBody().write(b);
                }
            }
        }
    }

    private String lfsEntry(String path) {
        return "{\"type\":\"file\",\"path\":\"" + path + "\",\"size\":" + gguf.length + ",\"lfs\":{\"oid\":\""
                + sha256 + "\",\"size\":" + gguf.length + "}}";
    }

    private static void json(HttpExchange x, String body) throws IOException {
        x.getResponseHeaders().add("Content-Type", "application/json");
        bytes(x, body.getBytes(StandardCharsets.UTF_8));
    }

    private static void bytes(HttpExchange x, byte[] b) throws IOException {
        if (x.getRequestMethod().equals("HEAD")) {
            x.getResponseHeaders().add("Content-Length", Integer.toString(b.length));
            x.sendResponseHeaders(200, -1);
            return;
        }
        x.sendResponseHeaders(200, b.length);
        try (OutputStream out = x.getResponseBody()) {
            out.write(b);
        }
    }

    private static byte[] slowBytes() {
        byte[] b = new byte[4 << 20];
        new java.util.Random(42).nextBytes(b);
        return b;
    }

    private static String sha(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void slowly(HttpExchange x) throws IOException {
        x.sendResponseHeaders(200, SLOW.length);
        try (OutputStream out = x.getResponseBody()) {
            for (int off = 0; off < SLOW.length; off += 64 << 10) {
                out.write(SLOW, off, Math.min(64 << 10, SLOW.length - off));
                out.flush();
                Thread.sleep(40);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static JsonObject obj(HttpResponse<String> r) {
        return WebServer.json(r).getAsJsonObject();
    }

    private static String error(HttpResponse<String> r) {
        return obj(r).getAsJsonObject("error").get("message").getAsString();
    }

    @Test
    void fileListShowsEveryFileWithItsSize() throws Exception {
        HttpResponse<String> r = web.post("ui/api/download/files", "{\"repo\":\"tiny/two-GGUF\"}");
        assertEquals(200, r.statusCode(), r.body());
        JsonArray files = obj(r).getAsJsonArray("files");
        assertEquals(3, files.size(), r.body());
        for (var f : files) {
            JsonObject o = f.getAsJsonObject();
            String p = o.get("path").getAsString();
            assertEquals(p.endsWith(".gguf") ? gguf.length : 5, o.get("size").getAsLong(), p);
            assertEquals(p.endsWith(".gguf"), o.get("gguf").getAsBoolean(), p);
        }
        assertEquals(2L * gguf.length + 5, obj(r).get("totalBytes").getAsLong());
    }

    @Test
    void ggufChoiceThenDownloadLandsInModelsAndLoads() throws Exception {
        HttpResponse<String> choose = web.post("ui/api/download", "{\"repo\":\"tiny/two-GGUF\"}");
        assertEquals(409, choose.statusCode(), choose.body());
        List<String> offered = obj(choose).getAsJsonArray("choices").asList().stream().map(c -> c.getAsJsonObject()
                .get("file").getAsString()).sorted().toList();
        assertEquals(List.of("stories-a.gguf", "stories-b.gguf"), offered);
        assertTrue(error(choose).contains("stories-a.gguf") && error(choose).contains("tiny/two-GGUF"),
                error(choose));
        assertFalse(hits.containsKey("/tiny/two-GGUF/resolve/main/stories-a.gguf"), "nothing fetched yet");

        HttpResponse<String> start = web.post("ui/api/download", "{\"repo\":\"tiny/two-GGUF\",\"file\":"
                + "\"stories-a.gguf\"}");
        assertEquals(200, start.statusCode(), start.body());
        String id = obj(start).get("id").getAsString();
        assertTrue(obj(start).get("description").getAsString().contains("stories-a.gguf"), start.body());

        Framework.await("download " + id + " done", WAIT, () -> "done".equals(job(id).get("state").getAsString()));
        JsonObject done = job(id);
        assertEquals(1.0, done.get("fraction").getAsDouble(), done.toString());
        Path file = models.resolve("stories-a.gguf");
        assertTrue(Files.isRegularFile(file), "downloaded into the models folder: " + done);
        assertEquals(sha256, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(
                Files.readAllBytes(file))));
        assertFalse(Files.exists(models.resolve("stories-b.gguf")), "only the chosen file");

        Framework.await("stories-a.gguf in the page's model list", WAIT, () -> {
            try {
                return web.state().getAsJsonArray("models").asList().stream().anyMatch(m -> m.getAsJsonObject()
                        .get("name").getAsString().equals("stories-a.gguf"));
            } catch (IOException | InterruptedException e) {
                return false;
            }
        });
        Framework.await("llama.cpp loader", WAIT, () -> manager.loaders().stream().map(LoaderInfo::id)
                .anyMatch("llama.cpp"::equals));
        HttpResponse<String> load = web.post("ui/api/load", "{\"model\":\"stories-a.gguf\",\"loader\":\"llama.cpp\","
                + "\"options\":{\"n_ctx\":256}}");
        assertEquals(200, load.statusCode(), load.body());
    }

    private JsonObject job(String id) {
        try {
            HttpResponse<String> r = web.get("ui/api/downloads");
            assertEquals(200, r.statusCode(), r.body());
            assertTrue(obj(r).get("available").getAsBoolean(), r.body());
            return obj(r).getAsJsonArray("jobs").asList().stream().map(j -> j.getAsJsonObject()).filter(j -> j.get(
                    "id").getAsString().equals(id)).findFirst().orElseThrow(() -> new AssertionError("no job " + id
                            + " in " + r.body()));
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void missingRepoIs404WithItsName() throws Exception {
        HttpResponse<String> r = web.post("ui/api/download/files", "{\"repo\":\"tiny/missing\"}");
        assertEquals(404, r.statusCode(), r.body());
        assertTrue(error(r).contains("tiny/missing"), error(r));
        HttpResponse<String> d = web.post("ui/api/download", "{\"repo\":\"tiny/missing\"}");
        assertEquals(404, d.statusCode(), d.body());
    }

    @Test
    void badInputIs400() throws Exception {
        HttpResponse<String> r = web.post("ui/api/download/files", "{\"repo\":\"not a repo\"}");
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(error(r).contains("user/model"), error(r));
        assertEquals(400, web.post("ui/api/download", "{}").statusCode());
    }

    @Test
    void unsafeFileNameFromTheHubIsRefusedAndNothingWritten() throws Exception {
        HttpResponse<String> r = web.post("ui/api/download", "{\"repo\":\"tiny/evil\"}");
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(error(r).contains("evil.gguf"), error(r));
        assertEquals(400, web.post("ui/api/download/files", "{\"repo\":\"tiny/evil\"}").statusCode());
        assertTrue(hits.keySet().stream().noneMatch(p -> p.contains("/resolve/")), "nothing fetched: " + hits);
        assertFalse(Files.exists(models.getParent().resolve("evil.gguf")));
        try (Stream<Path> s = Files.walk(models.getParent())) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains("evil")), "no evil file anywhere");
        }
    }

    @Test
    void progressReachesEveryPageAndCancelKeepsTheModelsFolderClean() throws Exception {
        List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        var stream = web.client.sendAsync(java.net.http.HttpRequest.newBuilder(web.base.resolve("ui/api/events"))
                .GET().build(), HttpResponse.BodyHandlers.fromLineSubscriber(new java.util.concurrent.Flow
                        .Subscriber<String>() {
                    @Override
                    public void onSubscribe(java.util.concurrent.Flow.Subscription s) {
                        s.request(Long.MAX_VALUE);
                    }

                    @Override
                    public void onNext(String line) {
                        events.add(line);
                    }

                    @Override
                    public void onError(Throwable t) {
                    }

                    @Override
                    public void onComplete() {
                    }
                }));
        try {
            Framework.await("page event stream open", WAIT, () -> events.contains("event: hello"));
            HttpResponse<String> start = web.post("ui/api/download", "{\"repo\":\"tiny/slow-GGUF\"}");
            assertEquals(200, start.statusCode(), start.body());
            String id = obj(start).get("id").getAsString();
            Framework.await("bytes arriving", WAIT, () -> job(id).get("bytes").getAsLong() > 0);
            Framework.await("a progress event with bytes on the page stream", WAIT, () -> events.stream()
                    .filter(l -> l.startsWith("data: ") && l.contains("\"id\":\"" + id + "\"")).map(l -> com.google.gson
                            .JsonParser.parseString(l.substring(6)).getAsJsonObject()).anyMatch(o -> o.get("state")
                                    .getAsString().equals("running") && o.get("bytes").getAsLong() > 0 && o.get(
                                            "totalBytes").getAsLong() == SLOW.length));

            HttpResponse<String> cancel = web.post("ui/api/download/" + id + "/cancel", "{}");
            assertEquals(200, cancel.statusCode(), cancel.body());
            Framework.await("job cancelled", WAIT, () -> job(id).get("state").getAsString().equals("cancelled"));
            assertTrue(job(id).get("message").getAsString().contains("resume"), job(id).toString());
            assertFalse(Files.exists(models.resolve("slow.gguf")), "a cancelled download shows no model");
            Framework.await("the cancel reached the page stream", WAIT, () -> events.stream().anyMatch(l -> l
                    .startsWith("data: ") && l.contains("\"id\":\"" + id + "\"") && l.contains("\"cancelled\"")));
        } finally {
            stream.cancel(true);
        }
    }

    @Test
    void cancelOfAnUnknownJobIs404() throws Exception {
        HttpResponse<String> r = web.post("ui/api/download/nope/cancel", "{}");
        assertEquals(404, r.statusCode(), r.body());
    }
}
