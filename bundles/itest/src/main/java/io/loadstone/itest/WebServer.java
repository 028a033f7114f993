package io.loadstone.itest;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;

import org.osgi.framework.ServiceReference;

import com.google.gson.JsonElement;
import com.google.gson.JsonParser;

/**
 * The web UI / API server of the running framework, moved to a free 127.0.0.1 port
 * through Loadstone's own configuration (PID io.loadstone.server), and plain HTTP calls
 * against it. Tests talk to it exactly as a browser or an OpenAI client would.
 */
final class WebServer {

    static final String RUNTIME = "org.osgi.service.servlet.runtime.HttpServiceRuntime";

    final URI base;
    final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();

    private WebServer(URI base) {
        this.base = base;
    }

    /** Configures a fresh port and waits until the server answers on it. */
    static WebServer start(Object... extraConfig) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Object[] kv = Arrays.copyOf(new Object[] {"port", port}, 2 + extraConfig.length);
        System.arraycopy(extraConfig, 0, kv, 2, extraConfig.length);
        Framework.configure("io.loadstone.server", Framework.props(kv));
        String want = ":" + port + "/";
        Framework.await("HTTP server on port " + port + " (endpoints now: " + endpoints() + ")",
                Duration.ofSeconds(30), () -> endpoints().contains(want));
        WebServer w = new WebServer(URI.create("http://127.0.0.1:" + port + "/"));
        Framework.await("web UI servlets registered", Duration.ofSeconds(30), () -> {
            try {
                return w.get("v1/models").statusCode() == 200 || w.get("v1/models").statusCode() == 401;
            } catch (IOException | InterruptedException e) {
                return false;
            }
        });
        return w;
    }

    static String endpoints() {
        try {
            ServiceReference<?>[] refs = Framework.context().getAllServiceReferences(RUNTIME, null);
            if (refs == null) {
                return "";
            }
            StringBuilder sb = new StringBuilder();
            for (ServiceReference<?> r : refs) {
                Object ep = r.getProperty("osgi.http.endpoint");
                sb.append(ep instanceof String[] a ? String.join(",", a) : String.valueOf(ep)).append(' ');
            }
            return sb.toString();
        } catch (org.osgi.framework.InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    HttpResponse<String> get(String path, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60)).GET();
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    HttpResponse<String> post(String path, String body, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    /** A streamed POST: the {@code data:} payloads of the server-sent events, in order. */
    java.util.List<String> sse(String path, String body, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        HttpResponse<java.util.stream.Stream<String>> r = client.send(b.build(), HttpResponse.BodyHandlers.ofLines());
        if (r.statusCode() != 200) {
            throw new AssertionError("HTTP " + r.statusCode() + ": " + String.join("\n", r.body().toList()));
        }
        if (!r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")) {
            throw new AssertionError("Not an event stream: " + r.headers().map());
        }
        return r.body().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
    }

    /**
     * Opens the page's event stream, as every open page does, and adds each event to
     * {@code received} as {@code "<event> <data>"} from a background thread; returns once the
     * stream's hello has arrived. Close the returned stream to stop listening.
     */
    java.io.InputStream pageEvents(java.util.List<String> received, Duration wait) throws Exception {
        HttpResponse<java.io.InputStream> r = client.send(HttpRequest.newBuilder(base.resolve("ui/api/events")).GET()
                .build(), HttpResponse.BodyHandlers.ofInputStream());
        if (r.statusCode() != 200) {
            throw new AssertionError("ui/api/events answered HTTP " + r.statusCode());
        }
        java.io.InputStream events = r.body();
        Thread.ofPlatform().daemon().start(() -> {
            try (java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(events,
                    StandardCharsets.UTF_8))) {
                String event = "message";
                for (String line; (line = in.readLine()) != null;) {
                    if (line.startsWith("event: ")) {
                        event = line.substring(7);
                    } else if (line.startsWith("data: ")) {
                        received.add(event + " " + line.substring(6));
                    }
                }
            } catch (IOException e) {
                // closed by the test
            }
        });
        Framework.await("page event stream open", wait, () -> received.stream().anyMatch(l -> l.startsWith("hello")));
        return events;
    }

    /** The per-start token the page's HTML carries for the Plugins tab (header X-Loadstone-Token). */
    String pageToken() throws IOException, InterruptedException {
        var m = java.util.regex.Pattern.compile("<meta name=\"loadstone-token\" content=\"([^\"]+)\">")
                .matcher(get("").body());
        if (!m.find()) {
            throw new AssertionError("The page has no loadstone-token meta tag");
        }
        return m.group(1);
    }

    /**
     * One request written by hand on a socket, so the test controls what HttpClient would not let
     * it send (a Host header, a path with dot-segments). Returns the status line's code and the body.
     */
    RawResponse raw(String requestHead, byte[] body) throws IOException {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", base.getPort())) {
            s.setSoTimeout(30_000);
            java.io.OutputStream out = s.getOutputStream();
            out.write((requestHead + (body == null ? "" : "Content-Length: " + body.length + "\r\n")
                    + "Connection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            if (body != null) {
                out.write(body);
            }
            out.flush();
            String all = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int end = all.indexOf("\r\n\r\n");
            String head = end < 0 ? all : all.substring(0, end);
            String rest = end < 0 ? "" : all.substring(end + 4);
            if (head.toLowerCase(java.util.Locale.ROOT).contains("transfer-encoding: chunked")) {
                rest = unchunk(rest);
            }
            return new RawResponse(Integer.parseInt(head.split(" ")[1]), head, rest);
        }
    }

    private static String unchunk(String chunked) {
        StringBuilder sb = new StringBuilder();
        int at = 0;
        while (at < chunked.length()) {
            int eol = chunked.indexOf("\r\n", at);
            int n = Integer.parseInt(chunked.substring(at, eol).trim().split(";")[0], 16);
            if (n == 0) {
                break;
            }
            sb.append(chunked, eol + 2, eol + 2 + n);
            at = eol + 2 + n + 2;
        }
        return sb.toString();
    }

    record RawResponse(int status, String head, String body) {
        com.google.gson.JsonObject error() {
            try {
                return JsonParser.parseString(body).getAsJsonObject().getAsJsonObject("error");
            } catch (RuntimeException e) {
                throw new AssertionError("Not a JSON error (HTTP " + status + "): " + head + "\n" + body, e);
            }
        }
    }

    /** The runtime state the web page sees. */
    com.google.gson.JsonObject state() throws IOException, InterruptedException {
        return json(get("ui/api/state")).getAsJsonObject();
    }

    /** Requests generating or waiting in line for {@code model}, as the page's state shows them. */
    int running(String model) {
        try {
            com.google.gson.JsonObject q = state().getAsJsonObject("queue");
            return q.has(model) ? q.getAsJsonObject(model).get("running").getAsInt() + q.getAsJsonObject(model)
                    .get("waiting").getAsInt() : 0;
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    static JsonElement json(HttpResponse<String> r) {
        try {
            return JsonParser.parseString(r.body());
        } catch (RuntimeException e) {
            throw new AssertionError("Not JSON (HTTP " + r.statusCode() + "): " + r.body(), e);
        }
    }
}
