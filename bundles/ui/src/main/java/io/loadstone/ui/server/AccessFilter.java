package io.loadstone.ui.server;

import java.io.IOException;
import java.net.URI;
import java.util.Locale;


import com.google.gson.JsonObject;

import io.loadstone.ui.http.ApiException;
import io.loadstone.ui.http.HttpIo;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.Cookie;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

/**
 * Guards every servlet of the default context (ours and any other bundle's): the API key
 * when one is configured, and a same-origin check on state-changing requests, because a
 * local server without a key is otherwise open to any web page the user visits (a form
 * post to 127.0.0.1 could install a plugin).
 *
 * <p>Registered by {@link HttpBridge} rather than configured by DS itself: DS would copy the
 * configuration (the API key among it) into the filter's service properties, publishing the
 * key to every bundle and making the whiteboard re-register the filter on each change, which
 * deadlocks against the Jetty restart the same change causes.
 */
public final class AccessFilter implements Filter {

    /** Cookie the web page gets after the user typed the key once; HttpOnly, same-site only. */
    public static final String COOKIE = "loadstone_key";
    public static final String LOGIN_PATH = "/ui/api/login";

    private volatile Access access;

    AccessFilter(Access access) {
        this.access = access;
    }

    void update(Access a) {
        this.access = a;
    }

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        HttpServletRequest req = (HttpServletRequest) request;
        HttpServletResponse resp = (HttpServletResponse) response;
        String method = req.getMethod().toUpperCase(Locale.ROOT);
        String path = path(req);
        boolean safe = method.equals("GET") || method.equals("HEAD") || method.equals("OPTIONS");
        if (!safe && !sameOrigin(req)) {
            HttpIo.discardBody(req);
            HttpIo.sendError(resp, new ApiException(403, "invalid_request_error", "cross_origin", null,
                    "Cross-site request refused: this server only takes changes from its own pages and from "
                            + "programs (no Origin header). Origin was " + req.getHeader("Origin") + "."));
            return;
        }
        Access a = access;
        if (a.keyRequired()) {
            if (method.equals("POST") && path.equals(LOGIN_PATH)) {
                login(req, resp, a);
                return;
            }
            if (!isPublic(method, path) && !authenticated(req, a)) {
                HttpIo.discardBody(req);
                HttpIo.sendError(resp, new ApiException(401, "invalid_request_error", "invalid_api_key", null,
                        req.getHeader("Authorization") == null && cookie(req) == null
                                ? "This server needs an API key: send the header 'Authorization: Bearer KEY' "
                                        + "(the key given with --api-key)."
                                : "Wrong API key. Use the key given with --api-key."));
                return;
            }
        } else if (method.equals("POST") && path.equals(LOGIN_PATH)) {
            HttpIo.send(resp, 200, status(false));
            return;
        }
        chain.doFilter(request, response);
        if (!safe && !req.isAsyncStarted()) {
            HttpIo.discardBody(req);
        }
    }

    private static String path(HttpServletRequest req) {
        String uri = req.getRequestURI();
        String ctx = req.getContextPath();
        return ctx != null && !ctx.isEmpty() && uri.startsWith(ctx) ? uri.substring(ctx.length()) : uri;
    }

    /** The page itself, its scripts and styles: they hold no data, and the page must load to ask for the key. */
    static boolean isPublic(String method, String path) {
        if (!method.equals("GET") && !method.equals("HEAD")) {
            return false;
        }
        return path.equals("/") || path.isEmpty() || path.equals("/index.html") || path.startsWith("/static/")
                || path.equals("/favicon.ico");
    }

    private static boolean authenticated(HttpServletRequest req, Access a) {
        String auth = req.getHeader("Authorization");
        if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return a.keyMatches(auth.substring(7).trim());
        }
        return a.keyMatches(cookie(req));
    }

    private static String cookie(HttpServletRequest req) {
        Cookie[] cookies = req.getCookies();
        if (cookies != null) {
            for (Cookie c : cookies) {
                if (COOKIE.equals(c.getName())) {
                    return c.getValue();
                }
            }
        }
        return null;
    }

    private static void login(HttpServletRequest req, HttpServletResponse resp, Access a) throws IOException {
        String key;
        try {
            JsonObject body = HttpIo.readObject(req);
            key = body.has("key") && body.get("key").isJsonPrimitive() ? body.get("key").getAsString() : null;
        } catch (ApiException e) {
            HttpIo.sendError(resp, e);
            return;
        }
        if (!a.keyMatches(key)) {
            HttpIo.sendError(resp, new ApiException(401, "invalid_request_error", "invalid_api_key", "key",
                    "Wrong API key. Use the key given with --api-key."));
            return;
        }
        // Set-Cookie by hand: the Cookie class cannot express SameSite on every container.
        resp.addHeader("Set-Cookie", COOKIE + "=" + key + "; Path=/; HttpOnly; SameSite=Strict");
        HttpIo.send(resp, 200, status(true));
    }

    private static JsonObject status(boolean required) {
        JsonObject o = new JsonObject();
        o.addProperty("ok", true);
        o.addProperty("key_required", required);
        return o;
    }

    /** No Origin header (curl, SDKs) or the same scheme, host and port as the request itself. */
    static boolean sameOrigin(HttpServletRequest req) {
        String origin = req.getHeader("Origin");
        if (origin == null) {
            return true;
        }
        String host = req.getHeader("Host");
        if (host == null || origin.equals("null")) {
            return false;
        }
        try {
            URI o = URI.create(origin);
            URI h = URI.create(req.getScheme() + "://" + host);
            return o.getScheme() != null && o.getScheme().equalsIgnoreCase(h.getScheme()) && o.getHost() != null
                    && o.getHost().equalsIgnoreCase(h.getHost()) && port(o) == port(h);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }
}
