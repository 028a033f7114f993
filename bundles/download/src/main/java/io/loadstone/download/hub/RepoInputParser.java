package io.loadstone.download.hub;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.RepoRef;

/**
 * Turns what a user typed into a {@link RepoRef}. Accepted: {@code user/model}, {@code user/model:branch}, and
 * URLs on the Hub (or on the configured endpoint): {@code …/user/model}, {@code …/user/model:branch},
 * {@code …/user/model/tree/<branch>}, {@code …/user/model/resolve/<branch>/<file>} and
 * {@code …/user/model/blob/<branch>/<file>}; a query such as {@code ?download=true} is ignored.
 */
public final class RepoInputParser {

    private static final String EXAMPLE = "for example facebook/opt-125m, facebook/opt-125m:main or"
            + " https://huggingface.co/facebook/opt-125m";

    private final URI endpoint;

    public RepoInputParser(URI endpoint) {
        this.endpoint = HubEndpoint.normalise(endpoint);
    }

    public RepoRef parse(String input) throws DownloadException {
        String s = input == null ? "" : input.strip();
        if (s.isEmpty()) {
            throw invalid("Please enter a model: user/model, optionally with :branch, " + EXAMPLE);
        }
        try {
            return looksLikeUrl(s) ? parseUrl(s) : parseId(s, s);
        } catch (IllegalArgumentException e) {
            throw invalid(e.getMessage());
        }
    }

    private boolean looksLikeUrl(String s) {
        String lower = s.toLowerCase(Locale.ROOT);
        return lower.contains("://") || lower.startsWith("huggingface.co/") || lower.startsWith("hf.co/")
                || lower.startsWith("www.huggingface.co/")
                || lower.startsWith(endpoint.getHost().toLowerCase(Locale.ROOT) + "/");
    }

    /** {@code user/model[:branch]}. */
    private static RepoRef parseId(String s, String original) throws DownloadException {
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        String repo = s;
        String branch = RepoRef.MAIN;
        int colon = s.indexOf(':');
        if (colon >= 0) {
            repo = s.substring(0, colon);
            branch = s.substring(colon + 1);
            if (branch.isEmpty()) {
                throw invalid("'" + original + "' ends with ':' but names no branch: write user/model:branch or"
                        + " leave out the ':'");
            }
        }
        if (repo.chars().filter(c -> c == '/').count() > 1) {
            throw invalid("'" + original + "' has more than user/model: to download one file, enter the repo here and"
                    + " the file name separately, or paste the file's full https://huggingface.co/…/resolve/… URL");
        }
        return new RepoRef(repo, branch, Optional.empty());
    }

    private RepoRef parseUrl(String s) throws DownloadException {
        String text = s.contains("://") ? s : "https://" + s;
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw invalid("'" + s + "' is not a valid URL (" + e.getReason() + "): " + EXAMPLE);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw invalid("'" + s + "' is not an http(s) URL: " + EXAMPLE);
        }
        String host = uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT);
        boolean onEndpoint = HubEndpoint.sameOrigin(endpoint, uri)
                || (host.equals(endpoint.getHost().toLowerCase(Locale.ROOT)) && uri.getPort() == -1);
        boolean official = host.equals("huggingface.co") || host.equals("www.huggingface.co") || host.equals("hf.co");
        if (!onEndpoint && !official) {
            throw invalid("'" + s + "' is not a Hugging Face URL: expected https://huggingface.co/user/model"
                    + (endpoint.equals(HubEndpoint.OFFICIAL) ? "" : " or " + endpoint + "/user/model"));
        }
        String rawPath = uri.getRawPath() == null ? "" : uri.getRawPath();
        String prefix = endpoint.getRawPath() == null ? "" : endpoint.getRawPath();
        if (onEndpoint && !prefix.isEmpty() && rawPath.startsWith(prefix + "/")) {
            rawPath = rawPath.substring(prefix.length());
        }
        while (rawPath.endsWith("/")) {
            rawPath = rawPath.substring(0, rawPath.length() - 1);
        }
        List<String> segments = new ArrayList<>();
        for (String raw : rawPath.split("/")) {
            if (!raw.isEmpty()) {
                segments.add(decode(raw, s));
            }
        }
        if (segments.isEmpty()) {
            throw invalid("'" + s + "' names no model: " + EXAMPLE);
        }
        String first = segments.get(0);
        if (first.equals("datasets") || first.equals("spaces")) {
            throw invalid("'" + s + "' is a " + first.substring(0, first.length() - 1)
                    + ", not a model: only model repositories can be downloaded");
        }
        if (segments.size() < 2) {
            throw invalid("'" + s + "' names only '" + first + "', not user/model: " + EXAMPLE);
        }
        if (segments.size() == 2) {
            return parseId(segments.get(0) + "/" + segments.get(1), s);
        }
        String repo = segments.get(0) + "/" + segments.get(1);
        String kind = segments.get(2);
        switch (kind) {
            case "tree" -> {
                if (segments.size() < 4) {
                    throw invalid("'" + s + "' ends with /tree/ but names no branch");
                }
                return new RepoRef(repo, String.join("/", segments.subList(3, segments.size())), Optional.empty());
            }
            case "resolve", "blob" -> {
                if (segments.size() < 5) {
                    throw invalid("'" + s + "' is a file URL without a file: expected …/" + repo + "/" + kind
                            + "/<branch>/<file>");
                }
                String file = String.join("/", segments.subList(4, segments.size()));
                return new RepoRef(repo, segments.get(3), Optional.of(file));
            }
            default -> throw invalid("'" + s + "' is not a model URL this downloader understands: expected "
                    + "…/user/model, …/user/model/tree/<branch> or …/user/model/resolve/<branch>/<file>");
        }
    }

    /** Strict percent-decoding of one path segment ({@code +} stays {@code +}, bad escapes are errors). */
    private static String decode(String raw, String original) throws DownloadException {
        if (raw.indexOf('%') < 0) {
            return raw;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                if (i + 2 >= raw.length() || Character.digit(raw.charAt(i + 1), 16) < 0
                        || Character.digit(raw.charAt(i + 2), 16) < 0) {
                    throw invalid("'" + original + "' has a broken %-escape in '" + raw + "'");
                }
                out.write(Character.digit(raw.charAt(i + 1), 16) * 16 + Character.digit(raw.charAt(i + 2), 16));
                i += 2;
            } else {
                int cp = raw.codePointAt(i);
                byte[] b = Character.toString(cp).getBytes(StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
                i += Character.charCount(cp) - 1;
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(out.toByteArray()))
                    .toString();
        } catch (CharacterCodingException e) {
            throw invalid("'" + original + "' has %-escapes that are not UTF-8 in '" + raw + "'");
        }
    }

    private static DownloadException invalid(String message) {
        return new DownloadException(Reason.INVALID_INPUT, message);
    }
}
