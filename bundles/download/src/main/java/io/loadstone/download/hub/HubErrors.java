package io.loadstone.download.hub;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;

import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.RepoRef;

/**
 * Turns the Hub's HTTP errors into messages that say what to do. The Hub marks its errors with an
 * {@code X-Error-Code} header ({@code RepoNotFound}, {@code RevisionNotFound}, {@code EntryNotFound},
 * {@code GatedRepo}) and explains them in {@code X-Error-Message}; it answers 401 both for private or gated
 * repos and, to anonymous users, for repos that do not exist.
 */
public final class HubErrors {

    private HubErrors() {
    }

    /**
     * The error for a host name that does not resolve: no network, or a mistyped mirror. Not retried: the
     * resolver answers the same a second later, and a user without network should know in seconds.
     */
    public static DownloadException unresolved(URI uri, java.net.UnknownHostException e) {
        // The JDK names the host it could not resolve, which after a redirect is not the one asked for.
        String m = e.getMessage();
        String host = m == null || m.isBlank() ? uri.getHost() : m.strip().split("[:\\s]")[0];
        return new DownloadException(Reason.NETWORK, "cannot resolve " + host
                + " \u2014 offline? (HF_ENDPOINT for a mirror)", e);
    }

    /** Statuses worth another attempt: server errors, 408 and 429. */
    public static boolean isTransient(int status) {
        return status >= 500 || status == 408 || status == 429;
    }

    /**
     * The error for a final (non-transient, or out-of-retries) status.
     *
     * @param file the file being downloaded, or empty for the listing
     */
    public static DownloadException toException(int status, Headers headers, String body, URI uri,
            HubEndpoint endpoint, RepoRef ref, Optional<String> file) {
        String code = headers.first("X-Error-Code").orElse("");
        String hubMessage = headers.first("X-Error-Message").orElse("");
        String page = endpoint.repoPage(ref).toString();
        String where = file.map(f -> "'" + f + "' in " + ref.repo()).orElse(ref.repo());
        if (code.equals("GatedRepo") || status == 403) {
            return new DownloadException(Reason.UNAUTHORIZED, ref.repo() + " is gated or private: "
                    + (endpoint.hasToken()
                            ? "the token in HF_TOKEN was refused for it; accept the licence on " + page
                                    + " with the account the token belongs to, and check the token can read it"
                            : "set HF_TOKEN and accept the licence on " + page)
                    + " (HTTP " + status + suffix(hubMessage) + ")");
        }
        if (status == 401) {
            return new DownloadException(Reason.UNAUTHORIZED, ref.repo() + " was not found or is gated or private: "
                    + "check the spelling; if it exists, "
                    + (endpoint.hasToken()
                            ? "the token in HF_TOKEN was refused: accept the licence on " + page
                                    + " and check the token can read it"
                            : "set HF_TOKEN and accept the licence on " + page)
                    + " (HTTP 401" + suffix(hubMessage) + ")");
        }
        if (status == 404) {
            String what = switch (code) {
                case "RevisionNotFound" -> "Branch '" + ref.branch() + "' not found in " + ref.repo()
                        + ": check the name after ':' (the default is main)";
                case "EntryNotFound" -> "File " + where + " not found at branch '" + ref.branch() + "'";
                case "RepoNotFound" -> "Repository " + ref.repo() + " not found on " + endpoint.base()
                        + ": check the spelling (a private repo also needs HF_TOKEN)";
                default -> file.isPresent()
                        ? "File " + where + " not found at branch '" + ref.branch() + "'"
                        : "Repository " + ref.repo() + " or its branch '" + ref.branch() + "' not found on "
                                + endpoint.base() + ": check the spelling (a private repo also needs HF_TOKEN)";
            };
            return new DownloadException(Reason.NOT_FOUND, what + " (HTTP 404" + suffix(hubMessage) + ")");
        }
        if (status == 429) {
            return new DownloadException(Reason.RATE_LIMITED, "The Hub is rate-limiting downloads of " + where
                    + " (HTTP 429" + retryAfterText(headers) + "): wait a while and start the download again;"
                    + " it resumes where it stopped"
                    + (endpoint.hasToken() ? "" : " (signed-in users, with HF_TOKEN, get higher limits)"));
        }
        String detail = !hubMessage.isEmpty() ? hubMessage : snippet(body);
        return new DownloadException(status >= 500 || status == 408 ? Reason.NETWORK : Reason.NOT_FOUND,
                "The Hub answered HTTP " + status + " for " + where + " (" + uri + ")"
                        + (detail.isEmpty() ? "" : ": " + detail)
                        + (status >= 500 ? "; the Hub may be down, try again later" : ""));
    }

    /**
     * The wait a 429 or 503 asks for in {@code Retry-After} (seconds or an HTTP date), or empty when absent or
     * unreadable.
     */
    public static Optional<Duration> retryAfter(Headers headers, Instant now) {
        Optional<String> value = headers.first("Retry-After").map(String::strip);
        if (value.isEmpty() || value.get().isEmpty()) {
            return Optional.empty();
        }
        String v = value.get();
        try {
            long seconds = Long.parseLong(v);
            return Optional.of(Duration.ofSeconds(Math.max(0, seconds)));
        } catch (NumberFormatException notSeconds) {
            try {
                Instant at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
                Duration d = Duration.between(now, at);
                return Optional.of(d.isNegative() ? Duration.ZERO : d);
            } catch (DateTimeParseException notDate) {
                return Optional.empty();
            }
        }
    }

    private static String retryAfterText(Headers headers) {
        return retryAfter(headers, Instant.now()).map(d -> ", asked to wait " + d.toSeconds() + " s").orElse("");
    }

    private static String suffix(String hubMessage) {
        return hubMessage.isEmpty() ? "" : ": " + hubMessage;
    }

    private static String snippet(String body) {
        if (body == null) {
            return "";
        }
        String s = body.strip().replaceAll("\\s+", " ");
        return s.length() > 200 ? s.substring(0, 200) + "…" : s;
    }
}
