package io.loadstone.ui.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.Strictness;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

/** Reading JSON request bodies and writing JSON answers and OpenAI-style errors. */
public final class HttpIo {

    /** Bodies larger than this are refused: prompts are text, not uploads. */
    public static final int MAX_JSON_BYTES = 16 << 20;

    public static final Gson GSON = new GsonBuilder().disableHtmlEscaping().serializeNulls().create();

    private HttpIo() {
    }

    /** The request body as a JSON object, or a 400 naming what is wrong with it. */
    public static JsonObject readObject(HttpServletRequest req) throws ApiException, IOException {
        byte[] body = readBody(req.getInputStream(), MAX_JSON_BYTES);
        if (body.length == 0) {
            throw ApiException.badRequest(null, "invalid_json", "The request body is empty; send a JSON object "
                    + "with Content-Type: application/json.");
        }
        JsonElement e;
        try {
            var reader = new com.google.gson.stream.JsonReader(new java.io.StringReader(new String(body,
                    StandardCharsets.UTF_8)));
            reader.setStrictness(Strictness.STRICT);
            // The adapter keeps the reader strict; JsonParser would switch it to lenient.
            e = GSON.getAdapter(JsonElement.class).read(reader);
            if (e == null) {
                throw new JsonParseException("no JSON value");
            }
            if (reader.peek() != com.google.gson.stream.JsonToken.END_DOCUMENT) {
                throw new JsonParseException("trailing data after the JSON value");
            }
        } catch (JsonParseException | IllegalStateException | IOException | NumberFormatException ex) {
            String why = ex.getMessage() == null ? ex.toString() : ex.getMessage();
            Throwable cause = ex.getCause();
            if (cause != null && cause.getMessage() != null) {
                why = cause.getMessage();
            }
            // Gson appends a link to its own troubleshooting page: that is for Gson's users, not ours.
            int link = why.indexOf("See https://");
            why = (link >= 0 ? why.substring(0, link) : why).strip();
            throw ApiException.badRequest(null, "invalid_json", "The request body is not valid JSON: "
                    + clip(why, 300));
        }
        if (!e.isJsonObject()) {
            throw ApiException.badRequest(null, "invalid_json", "The request body must be a JSON object, not "
                    + kind(e) + ".");
        }
        return e.getAsJsonObject();
    }

    /** Reads at most {@code limit} bytes; more is refused with 413. */
    public static byte[] readBody(InputStream in, int limit) throws ApiException, IOException {
        byte[] data = in.readNBytes(limit + 1);
        if (data.length > limit) {
            throw new ApiException(413, "invalid_request_error", "request_too_large", null,
                    "The request body is larger than " + (limit >> 20) + " MiB.");
        }
        return data;
    }

    static String kind(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return "null";
        }
        if (e.isJsonArray()) {
            return "an array";
        }
        if (e.isJsonObject()) {
            return "an object";
        }
        var p = e.getAsJsonPrimitive();
        return p.isBoolean() ? "a boolean" : p.isNumber() ? "a number" : "a string";
    }

    public static void send(HttpServletResponse resp, int status, Object body) throws IOException {
        byte[] bytes = GSON.toJson(body instanceof JsonElement je ? je : GSON.toJsonTree(body)).getBytes(
                StandardCharsets.UTF_8);
        resp.setStatus(status);
        resp.setContentType("application/json;charset=utf-8");
        resp.setHeader("Cache-Control", "no-store");
        resp.setContentLength(bytes.length);
        try (OutputStream out = resp.getOutputStream()) {
            out.write(bytes);
        }
    }

    /** Longest error message sent; longer ones are cut (see {@link #clip}). */
    static final int MAX_MESSAGE = 4000;

    /** The OpenAI error body: {@code {"error":{"message","type","param","code"}}}. */
    public static JsonObject errorBody(ApiException e) {
        JsonObject err = new JsonObject();
        // A corrupt file can carry names of megabytes (tensor names, keys) that end up in a message.
        err.addProperty("message", clip(e.getMessage(), MAX_MESSAGE));
        err.addProperty("type", e.type());
        err.add("param", e.param() == null ? JsonNull.INSTANCE : GSON.toJsonTree(e.param()));
        err.add("code", e.code() == null ? JsonNull.INSTANCE : GSON.toJsonTree(e.code()));
        JsonObject o = new JsonObject();
        o.add("error", err);
        return o;
    }

    /** The most of an unread request body {@link #discardBody} reads; a larger one may close the connection. */
    private static final long DISCARD_LIMIT = 1 << 20;

    /**
     * Reads and drops what is left of a request body. A response sent before the body was read
     * (a refusal, an error) makes Jetty close the connection afterwards; a client that already
     * sent its next request on that kept-alive connection then gets no answer at all (seen as
     * "header parser received no bytes" from Java's HttpClient). Reading the rest first keeps
     * the connection usable.
     */
    public static void discardBody(HttpServletRequest req) {
        try {
            InputStream in = req.getInputStream();
            byte[] buf = new byte[8192];
            long total = 0;
            for (int n; total < DISCARD_LIMIT && (n = in.read(buf)) != -1;) {
                total += n;
            }
        } catch (IllegalStateException | IOException e) {
            // Read through getReader() or asynchronously by the servlet: it has handled the body.
        }
    }

    public static void sendError(HttpServletResponse resp, ApiException e) throws IOException {
        if (resp.isCommitted()) {
            return;
        }
        resp.reset();
        if (e.status() == 401) {
            resp.setHeader("WWW-Authenticate", "Bearer realm=\"Loadstone\"");
        }
        send(resp, e.status(), errorBody(e));
    }

    /**
     * {@code text} cut to at most {@code max} characters (with "…" and the full length), so a
     * client-supplied value echoed in an error (a header, a path) cannot make the answer huge.
     */
    public static String clip(String text, int max) {
        if (text == null || text.length() <= max) {
            return text;
        }
        return text.substring(0, max) + "… (" + text.length() + " characters)";
    }

    /** Path below the servlet, without a trailing slash ("" for the servlet's root). */
    public static String subPath(HttpServletRequest req) {
        String p = req.getPathInfo();
        if (p == null) {
            return "";
        }
        while (p.length() > 1 && p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        return p.equals("/") ? "" : p;
    }
}
