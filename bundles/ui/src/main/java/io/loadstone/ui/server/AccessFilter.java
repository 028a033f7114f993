package io.loadstone.ui.server;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.Deque;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;


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
    /** Routes that install, update, start, stop or remove code running in this server. */
    static final String PLUGINS_PATH = "/ui/api/plugins/";
    /** Wrong keys a client may send to the login route per {@link #LOGIN_WINDOW_NANOS} before 429. */
    static final int LOGIN_ATTEMPTS = 10;
    static final long LOGIN_WINDOW_NANOS = TimeUnit.MINUTES.toNanos(1);

    private volatile Access access;
    private volatile HostCheck hosts;
    private final PageToken token;
    /** Per-start secret the session cookie is derived from, so the cookie never holds the key itself. */
    private final byte[] sessionSecret = new byte[32];
    private final Map<String, Deque<Long>> loginFailures = new ConcurrentHashMap<>();

    AccessFilter(Access access, HostCheck hosts, PageToken token) {
        this.access = access;
        this.hosts = hosts;
        this.token = token;
        new SecureRandom().nextBytes(sessionSecret);
    }

    void update(Access a, HostCheck h) {
        this.access = a;
        this.hosts = h;
        loginFailures.clear(); // wrong guesses at an earlier key say nothing about this one
    }

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        HttpServletRequest req = (HttpServletRequest) request;
        HttpServletResponse resp = (HttpServletResponse) response;
        String method = req.getMethod().toUpperCase(Locale.ROOT);
        String host = req.getHeader("Host");
        if (!hosts.allows(host, req.getLocalAddr(), req.getLocalPort())) {
            refuse(req, resp, new ApiException(421, "invalid_request_error", "host_not_allowed", null,
                    "This server does not answer to the host name '" + HttpIo.clip(host, 100) + "': only 127.0.0.1, "
                            + "localhost and [::1] (and, for --listen, the names in allowed.hosts of PID "
                            + ServerConfig.PID + "). A web page that points its own domain at this machine "
                            + "gets this answer."));
            return;
        }
        String path = path(req);
        if (path == null) {
            refuse(req, resp, ApiException.badRequest(null, "invalid_path", "The path "
                    + HttpIo.clip(req.getRequestURI(), 200) + " has '.' or '..' segments (plain or %-encoded); "
                    + "send the path without them."));
            return;
        }
        boolean safe = method.equals("GET") || method.equals("HEAD") || method.equals("OPTIONS");
        if (!safe && !sameOrigin(req)) {
            String from = req.getHeader("Origin") != null ? "Origin was " + req.getHeader("Origin")
                    : "Referer was " + req.getHeader("Referer");
            refuse(req, resp, new ApiException(403, "invalid_request_error", "cross_origin", null,
                    "Cross-site request refused: this server only takes changes from its own pages and from "
                            + "programs (no Origin header). " + HttpIo.clip(from, 200) + "."));
            return;
        }
        Access a = access;
        boolean bearer = false;
        if (a.keyRequired()) {
            if (method.equals("POST") && path.equals(LOGIN_PATH)) {
                login(req, resp, a);
                return;
            }
            bearer = bearerMatches(req, a);
            boolean servletPublic = isPublic(method, servletPath(req));
            if (!(isPublic(method, path) && servletPublic) && !bearer && !cookieMatches(req, a)) {
                refuse(req, resp, new ApiException(401, "invalid_request_error", "invalid_api_key", null,
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
        if (!safe && installsCode(path) && !bearer && !token.matches(req.getHeader(PageToken.HEADER))) {
            refuse(req, resp, new ApiException(403, "invalid_request_error", "missing_page_token", null,
                    "Installing or removing plugins needs the web page's token (header " + PageToken.HEADER
                            + ", in the page's HTML) or the API key ('Authorization: Bearer KEY'): reload the "
                            + "page and try again."));
            return;
        }
        chain.doFilter(request, response);
        if (!safe && !req.isAsyncStarted()) {
            HttpIo.discardBody(req);
        }
    }

    private static void refuse(HttpServletRequest req, HttpServletResponse resp, ApiException e) throws IOException {
        HttpIo.discardBody(req);
        HttpIo.sendError(resp, e);
    }

    static boolean installsCode(String path) {
        return path.startsWith(PLUGINS_PATH);
    }

    /** Where the container routes the request (decoded, normalised), for a second opinion on {@link #path}. */
    private static String servletPath(HttpServletRequest req) {
        String sp = req.getServletPath() == null ? "" : req.getServletPath();
        return sp + (req.getPathInfo() == null ? "" : req.getPathInfo());
    }

    /**
     * The request path below the context, or null when it has dot-segments: a container that
     * resolves {@code /static/../ui/api/plugins} routes it to the API while the raw path
     * still looks like a public script, so such paths are refused outright.
     */
    static String path(HttpServletRequest req) {
        String uri = req.getRequestURI();
        String ctx = req.getContextPath();
        String p = ctx != null && !ctx.isEmpty() && uri.startsWith(ctx) ? uri.substring(ctx.length()) : uri;
        return hasDotSegment(p) ? null : p;
    }

    static boolean hasDotSegment(String rawPath) {
        String decoded = rawPath.replaceAll("(?i)%2e", ".").replaceAll("(?i)%2f|%5c|\\\\", "/");
        for (String seg : decoded.split("/", -1)) {
            int semi = seg.indexOf(';'); // "..;x" is ".." to some containers
            String s = semi >= 0 ? seg.substring(0, semi) : seg;
            if (s.equals(".") || s.equals("..")) {
                return true;
            }
        }
        return false;
    }

    /** The page itself, its scripts and styles: they hold no data, and the page must load to ask for the key. */
    static boolean isPublic(String method, String path) {
        if (!method.equals("GET") && !method.equals("HEAD")) {
            return false;
        }
        return path.equals("/") || path.isEmpty() || path.equals("/index.html") || path.startsWith("/static/")
                || path.equals("/favicon.ico");
    }

    private static boolean bearerMatches(HttpServletRequest req, Access a) {
        String auth = req.getHeader("Authorization");
        return auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) && a.keyMatches(auth.substring(7).trim());
    }

    private boolean cookieMatches(HttpServletRequest req, Access a) {
        String c = cookie(req);
        return c != null && MessageDigest.isEqual(c.getBytes(StandardCharsets.UTF_8), session(a).getBytes(
                StandardCharsets.UTF_8));
    }

    /**
     * The cookie's value: an HMAC of the key under a per-start secret. A leaked cookie (a log,
     * a shared browser profile) gives neither the key nor access after a restart or a key change.
     */
    String session(Access a) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(sessionSecret, "HmacSHA256"));
            return Base64.getUrlEncoder().withoutPadding().encodeToString(mac.doFinal(a.apiKey().getBytes(
                    StandardCharsets.UTF_8)));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
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

    private void login(HttpServletRequest req, HttpServletResponse resp, Access a) throws IOException {
        String client = String.valueOf(req.getRemoteAddr());
        if (!loginAllowed(client)) {
            HttpIo.discardBody(req);
            resp.setHeader("Retry-After", "60");
            HttpIo.sendError(resp, new ApiException(429, "invalid_request_error", "too_many_attempts", "key",
                    "Too many wrong keys from " + client + ": wait a minute and try again."));
            return;
        }
        String key;
        try {
            JsonObject body = HttpIo.readObject(req);
            key = body.has("key") && body.get("key").isJsonPrimitive() ? body.get("key").getAsString() : null;
        } catch (ApiException e) {
            HttpIo.sendError(resp, e);
            return;
        }
        if (!a.keyMatches(key)) {
            loginFailed(client);
            HttpIo.sendError(resp, new ApiException(401, "invalid_request_error", "invalid_api_key", "key",
                    "Wrong API key. Use the key given with --api-key."));
            return;
        }
        // Set-Cookie by hand: the Cookie class cannot express SameSite on every container.
        resp.addHeader("Set-Cookie", COOKIE + "=" + session(a) + "; Path=/; HttpOnly; SameSite=Strict");
        HttpIo.send(resp, 200, status(true));
    }

    /** At most {@link #LOGIN_ATTEMPTS} wrong keys per client per minute, so the key cannot be guessed online. */
    private boolean loginAllowed(String client) {
        Deque<Long> d = loginFailures.get(client);
        if (d == null) {
            return true;
        }
        synchronized (d) {
            long now = System.nanoTime();
            while (!d.isEmpty() && now - d.peekFirst() > LOGIN_WINDOW_NANOS) {
                d.pollFirst();
            }
            return d.size() < LOGIN_ATTEMPTS;
        }
    }

    private void loginFailed(String client) {
        if (loginFailures.size() > 10_000) {
            loginFailures.clear(); // bounded memory: a flood of addresses only resets the counts
        }
        Deque<Long> d = loginFailures.computeIfAbsent(client, k -> new ArrayDeque<>());
        synchronized (d) {
            d.addLast(System.nanoTime());
        }
    }

    private static JsonObject status(boolean required) {
        JsonObject o = new JsonObject();
        o.addProperty("ok", true);
        o.addProperty("key_required", required);
        return o;
    }

    /**
     * No Origin header (curl, SDKs) or the same scheme, host and port as the request itself. A
     * Referer without Origin (older browsers, some form posts) is judged like an Origin.
     */
    static boolean sameOrigin(HttpServletRequest req) {
        String origin = req.getHeader("Origin");
        if (origin == null) {
            String referer = req.getHeader("Referer");
            if (referer == null) {
                return true;
            }
            try {
                URI r = URI.create(referer.trim());
                if (r.getScheme() == null || r.getRawAuthority() == null) {
                    return false;
                }
                origin = r.getScheme() + "://" + r.getRawAuthority();
            } catch (IllegalArgumentException e) {
                return false;
            }
        }
        String host = req.getHeader("Host");
        if (host == null || origin.equals("null")) {
            return false;
        }
        try {
            URI o = URI.create(origin);
            URI h = URI.create(req.getScheme() + "://" + host);
            return o.getScheme() != null && o.getScheme().equalsIgnoreCase(h.getScheme()) && o.getHost() != null
                    && o.getHost().equalsIgnoreCase(h.getHost()) && port(o) == port(h) && o.getUserInfo() == null;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }
}
