package io.loadstone.download.service;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * The downloader's settings, from Config Admin (the DS component) or the command line.
 *
 * @param endpoint        the Hub's base URL (the {@code HF_ENDPOINT} environment variable wins over it)
 * @param token           a Hugging Face token ({@code HF_TOKEN} wins over it); never logged or printed
 * @param modelsDir       where models go
 * @param lorasDir        where LoRA adapters go
 * @param parallelFiles   files fetched at the same time
 * @param retries         attempts after the first for a failing request
 * @param connectTimeout  TCP/TLS connect timeout
 * @param idleTimeout     longest silence from the server before an attempt is abandoned (and retried)
 * @param backoffBase     first wait between attempts (doubling, with jitter)
 * @param backoffMax      longest wait between attempts
 * @param maxRetryAfter   longest {@code Retry-After} honoured; longer ends the download with a message
 * @param freeSpaceMargin bytes that must stay free on the disk after a download
 */
public record Settings(URI endpoint, Optional<String> token, Path modelsDir, Path lorasDir, int parallelFiles,
        int retries, Duration connectTimeout, Duration idleTimeout, Duration backoffBase, Duration backoffMax,
        Duration maxRetryAfter, long freeSpaceMargin) {

    public static final URI DEFAULT_ENDPOINT = URI.create("https://huggingface.co");

    public Settings {
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(token, "token");
        Objects.requireNonNull(modelsDir, "modelsDir");
        Objects.requireNonNull(lorasDir, "lorasDir");
        if (parallelFiles < 1 || parallelFiles > 64) {
            throw new IllegalArgumentException("parallel files must be 1 to 64, not " + parallelFiles);
        }
        if (retries < 0 || retries > 100) {
            throw new IllegalArgumentException("retries must be 0 to 100, not " + retries);
        }
        if (freeSpaceMargin < 0) {
            throw new IllegalArgumentException("the free space margin must not be negative");
        }
    }

    /** The defaults: {@code models/} and {@code loras/} in the working directory, 4 files at once, 5 retries. */
    public static Settings defaults() {
        return new Settings(DEFAULT_ENDPOINT, Optional.empty(), Path.of("models"), Path.of("loras"), 4, 5,
                Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofSeconds(1), Duration.ofSeconds(30),
                Duration.ofMinutes(5), 512L * 1024 * 1024);
    }

    public Settings withEndpoint(URI e) {
        return new Settings(e, token, modelsDir, lorasDir, parallelFiles, retries, connectTimeout, idleTimeout,
                backoffBase, backoffMax, maxRetryAfter, freeSpaceMargin);
    }

    public Settings withToken(Optional<String> t) {
        return new Settings(endpoint, t, modelsDir, lorasDir, parallelFiles, retries, connectTimeout, idleTimeout,
                backoffBase, backoffMax, maxRetryAfter, freeSpaceMargin);
    }

    public Settings withDirs(Path models, Path loras) {
        return new Settings(endpoint, token, models, loras, parallelFiles, retries, connectTimeout, idleTimeout,
                backoffBase, backoffMax, maxRetryAfter, freeSpaceMargin);
    }

    public Settings withParallelFiles(int n) {
        return new Settings(endpoint, token, modelsDir, lorasDir, n, retries, connectTimeout, idleTimeout,
                backoffBase, backoffMax, maxRetryAfter, freeSpaceMargin);
    }

    public Settings withRetries(int n, Duration base, Duration max, Duration maxAfter) {
        return new Settings(endpoint, token, modelsDir, lorasDir, parallelFiles, n, connectTimeout, idleTimeout,
                base, max, maxAfter, freeSpaceMargin);
    }

    public Settings withTimeouts(Duration connect, Duration idle) {
        return new Settings(endpoint, token, modelsDir, lorasDir, parallelFiles, retries, connect, idle,
                backoffBase, backoffMax, maxRetryAfter, freeSpaceMargin);
    }

    public Settings withFreeSpaceMargin(long bytes) {
        return new Settings(endpoint, token, modelsDir, lorasDir, parallelFiles, retries, connectTimeout,
                idleTimeout, backoffBase, backoffMax, maxRetryAfter, bytes);
    }

    /** Everything but the token, which must never reach a log. */
    @Override
    public String toString() {
        return "Settings[endpoint=" + endpoint + ", token=" + (token.isPresent() ? "(set)" : "(none)")
                + ", modelsDir=" + modelsDir + ", lorasDir=" + lorasDir + ", parallelFiles=" + parallelFiles
                + ", retries=" + retries + ", connectTimeout=" + connectTimeout + ", idleTimeout=" + idleTimeout
                + ", backoffBase=" + backoffBase + ", backoffMax=" + backoffMax + ", maxRetryAfter=" + maxRetryAfter
                + ", freeSpaceMargin=" + freeSpaceMargin + "]";
    }
}
