package io.loadstone.download.hub;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

import io.loadstone.download.RepoRef;

/**
 * The Hub's base URL, the token, and the rule for which hosts may see the token.
 *
 * <p><b>Token rule.</b> The {@code Authorization: Bearer} header goes only to
 * <ol>
 * <li>the endpoint's own origin (same scheme, host and port), and</li>
 * <li>when the endpoint is the official Hub ({@code huggingface.co} or {@code hf.co}), HTTPS URLs on the Hub's
 * own hosts: {@code huggingface.co}, {@code hf.co} and their subdomains (the LFS/Xet CDNs
 * {@code cdn-lfs*.huggingface.co}, {@code cdn-lfs*.hf.co}, {@code cas-bridge.xethub.hf.co}).</li>
 * </ol>
 * Any other redirect target (another host, another port, a mirror's storage, plain HTTP) gets no token: those
 * redirects carry pre-signed URLs and need none, and a token must never leak to third parties. The token is
 * never logged and never part of {@link #toString()}.
 */
public final class HubEndpoint {

    /** The official Hub. */
    public static final URI OFFICIAL = URI.create("https://huggingface.co");

    private final URI base;
    private final Optional<String> token;

    public HubEndpoint(URI base, Optional<String> token) {
        this.base = normalise(Objects.requireNonNull(base, "base"));
        this.token = Objects.requireNonNull(token, "token").map(String::strip).filter(t -> !t.isEmpty());
        this.token.ifPresent(t -> {
            for (int i = 0; i < t.length(); i++) {
                char c = t.charAt(i);
                if (c <= 0x20 || c >= 0x7f) {
                    throw new IllegalArgumentException("The Hugging Face token contains a space or control character;"
                            + " copy it again from https://huggingface.co/settings/tokens");
                }
            }
        });
    }

    /**
     * Checks and normalises an endpoint URL: http or https, a host, no user info, query or fragment,
     * no trailing slash.
     */
    public static URI normalise(URI uri) {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !scheme.equals("http")) {
            throw new IllegalArgumentException("The Hub endpoint '" + uri + "' must be an http or https URL,"
                    + " for example https://huggingface.co");
        }
        if (uri.getHost() == null || uri.getRawUserInfo() != null || uri.getRawQuery() != null
                || uri.getRawFragment() != null) {
            throw new IllegalArgumentException("The Hub endpoint '" + uri + "' must be a plain URL with a host and"
                    + " no user, query or fragment, for example https://huggingface.co");
        }
        String s = uri.toString();
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        return URI.create(s);
    }

    public URI base() {
        return base;
    }

    public boolean hasToken() {
        return token.isPresent();
    }

    /** The header value for a request to {@code target}, when the token rule allows it. */
    public Optional<String> authorizationFor(URI target) {
        return token.filter(t -> mayReceiveToken(target)).map(t -> "Bearer " + t);
    }

    /** The token rule (see the class comment). */
    public boolean mayReceiveToken(URI target) {
        if (sameOrigin(base, target)) {
            return true;
        }
        return isOfficialHost(base.getHost()) && "https".equalsIgnoreCase(target.getScheme())
                && effectivePort(target) == 443 && isOfficialHost(target.getHost());
    }

    /** True when both URLs have the same scheme, host and port. */
    public static boolean sameOrigin(URI a, URI b) {
        return a.getScheme() != null && a.getScheme().equalsIgnoreCase(b.getScheme())
                && a.getHost() != null && a.getHost().equalsIgnoreCase(b.getHost())
                && effectivePort(a) == effectivePort(b);
    }

    private static boolean isOfficialHost(String host) {
        if (host == null) {
            return false;
        }
        String h = host.toLowerCase(Locale.ROOT);
        return h.equals("huggingface.co") || h.equals("hf.co") || h.endsWith(".huggingface.co") || h.endsWith(".hf.co");
    }

    private static int effectivePort(URI u) {
        if (u.getPort() != -1) {
            return u.getPort();
        }
        return "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    /** The repo's web page, where gated repos' licences are accepted. */
    public URI repoPage(RepoRef ref) {
        return URI.create(base + "/" + ref.repo());
    }

    /** {@code GET {base}/api/models/{repo}/tree/{branch}?recursive=true}. */
    public URI treeUri(RepoRef ref) {
        return URI.create(base + "/api/models/" + ref.repo() + "/tree/" + encodeSegment(ref.branch())
                + "?recursive=true");
    }

    /** {@code GET {base}/{repo}/resolve/{branch}/{path}}. */
    public URI resolveUri(RepoRef ref, String path) {
        StringBuilder b = new StringBuilder().append(base).append('/').append(ref.repo()).append("/resolve/")
                .append(encodeSegment(ref.branch()));
        for (String segment : path.split("/")) {
            b.append('/').append(encodeSegment(segment));
        }
        return URI.create(b.toString());
    }

    /**
     * Percent-encodes one URL path segment: everything but RFC 3986 unreserved characters, so a branch such
     * as {@code refs/pr/1} becomes one segment {@code refs%2Fpr%2F1}, as the Hub expects.
     */
    static String encodeSegment(String s) {
        StringBuilder b = new StringBuilder();
        for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
            int c = x & 0xff;
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
                    || c == '_' || c == '~') {
                b.append((char) c);
            } else {
                b.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
            }
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return base + (token.isPresent() ? " (with token)" : " (anonymous)");
    }
}
