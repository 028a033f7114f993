package io.loadstone.ui.http;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

import com.google.gson.JsonElement;

import jakarta.servlet.http.HttpServletResponse;

/**
 * A JSON answer that takes long to compute (a non-streamed completion). A servlet cannot see
 * that its client hung up until it writes, so once the work has run for {@link #PROBE_NANOS}
 * this sends a space (JSON allows whitespace before a value) at most that often; when a write
 * fails the client is gone and {@link #clientPresent()} turns false, so the work can stop. Up
 * to the first probe the answer keeps its own status code; after it the status is 200 and an
 * error travels in the body only.
 */
public final class PatientReply {

    /** How long a computation runs before the client is probed, and then how often. */
    static final long PROBE_NANOS = 1_000_000_000L;

    private final HttpServletResponse resp;
    private final long started = System.nanoTime();
    private long lastProbe = started;
    private OutputStream out;
    private boolean gone;

    public PatientReply(HttpServletResponse resp) {
        this.resp = resp;
    }

    /** False once the client has hung up; cheap enough to call for every token. */
    public synchronized boolean clientPresent() {
        if (gone) {
            return false;
        }
        long now = System.nanoTime();
        if (now - lastProbe < PROBE_NANOS) {
            return true;
        }
        lastProbe = now;
        try {
            if (out == null) {
                resp.setStatus(200);
                resp.setContentType("application/json;charset=utf-8");
                resp.setHeader("Cache-Control", "no-store");
                out = resp.getOutputStream();
            }
            out.write(' ');
            out.flush();
            return true;
        } catch (IOException | IllegalStateException e) {
            gone = true;
            return false;
        }
    }

    /** Sends the answer; after a probe the status can no longer change and {@code status} only goes unused. */
    public synchronized void send(int status, JsonElement body) throws IOException {
        if (out == null) {
            HttpIo.send(resp, status, body);
            return;
        }
        if (gone) {
            return;
        }
        try {
            out.write(HttpIo.GSON.toJson(body).getBytes(StandardCharsets.UTF_8));
            out.close();
        } catch (IOException e) {
            gone = true;
        }
    }

    /** An error: its own status before the first probe, else its body after the spaces. */
    public void sendError(ApiException e) throws IOException {
        if (out == null) {
            HttpIo.sendError(resp, e);
        } else {
            send(e.status(), HttpIo.errorBody(e));
        }
    }
}
