package io.loadstone.ui.http;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

import jakarta.servlet.http.HttpServletResponse;

/**
 * A server-sent-events response. Every write is flushed at once so tokens reach the
 * browser as they are made; a failed write means the client has gone, which callers use
 * to stop work for it.
 */
public final class EventStream {

    private final HttpServletResponse resp;
    private OutputStream out;
    private boolean broken;

    public EventStream(HttpServletResponse resp) {
        this.resp = resp;
    }

    /** Sets the headers and sends them; nothing can be changed after this. */
    public synchronized boolean open() {
        if (out != null) {
            return !broken;
        }
        resp.setStatus(200);
        resp.setContentType("text/event-stream;charset=utf-8");
        resp.setHeader("Cache-Control", "no-cache");
        // Proxies such as nginx buffer responses unless told not to.
        resp.setHeader("X-Accel-Buffering", "no");
        try {
            out = resp.getOutputStream();
            resp.flushBuffer();
            return true;
        } catch (IOException e) {
            broken = true;
            return false;
        }
    }

    public synchronized boolean isOpen() {
        return out != null;
    }

    /** Sends {@code data: <json>} with an optional event name; false when the client is gone. */
    public boolean send(String event, String data) {
        StringBuilder sb = new StringBuilder(data.length() + 32);
        if (event != null) {
            sb.append("event: ").append(event).append('\n');
        }
        for (String line : data.split("\n", -1)) {
            sb.append("data: ").append(line).append('\n');
        }
        sb.append('\n');
        return write(sb.toString());
    }

    /** A comment line: keeps proxies from timing out and finds clients that left. */
    public boolean comment(String text) {
        return write(": " + text + "\n\n");
    }

    private synchronized boolean write(String s) {
        if (broken || (out == null && !open())) {
            return false;
        }
        try {
            out.write(s.getBytes(StandardCharsets.UTF_8));
            out.flush();
            return true;
        } catch (IOException | IllegalStateException e) {
            broken = true;
            return false;
        }
    }

    public synchronized boolean broken() {
        return broken;
    }
}
