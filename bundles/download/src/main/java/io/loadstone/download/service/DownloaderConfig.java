package io.loadstone.download.service;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.AttributeType;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the downloader (PID {@code io.loadstone.download}). */
@ObjectClassDefinition(name = "Loadstone Hugging Face downloader",
        description = "Downloads models and LoRAs from the Hugging Face Hub into the models folder.")
public @interface DownloaderConfig {

    @AttributeDefinition(name = "Hub endpoint",
            description = "Base URL of the Hub or a mirror. The HF_ENDPOINT environment variable overrides it.")
    String endpoint() default "https://huggingface.co";

    @AttributeDefinition(name = "Models folder", required = false,
            description = "Where models go. Empty: the runtime's models folder, or ./models without a runtime.")
    String modelsDir() default "";

    @AttributeDefinition(name = "LoRA folder", required = false,
            description = "Where LoRA adapters go. Empty: 'loras' next to the models folder.")
    String lorasDir() default "";

    @AttributeDefinition(name = "Parallel files", min = "1", max = "64",
            description = "How many files of one download are fetched at the same time.")
    int parallelFiles() default 4;

    @AttributeDefinition(name = "Retries", min = "0", max = "100",
            description = "Attempts after the first for a request that fails with a server error, a timeout or a"
                    + " dropped connection (exponential backoff with jitter).")
    int retries() default 5;

    @AttributeDefinition(name = "Connect timeout (s)", min = "1")
    int connectTimeoutSeconds() default 10;

    @AttributeDefinition(name = "Idle timeout (s)", min = "1",
            description = "Longest silence from the server before an attempt is abandoned and retried.")
    int idleTimeoutSeconds() default 60;

    @AttributeDefinition(name = "Longest Retry-After (s)", min = "0",
            description = "A rate-limited download waits at most this long when the Hub answers 429; longer"
                    + " ends it with a message saying when to try again.")
    int maxRetryAfterSeconds() default 300;

    @AttributeDefinition(name = "Free space margin (MB)", min = "0",
            description = "Space that must stay free on the disk after a download; a download that would eat"
                    + " into it does not start.")
    long freeSpaceMarginMb() default 512;

    /**
     * The token, as the private property {@code .token}: DS does not publish properties starting with a dot as
     * service properties, so other bundles cannot read it from the service registry.
     */
    @AttributeDefinition(name = "Hugging Face token", type = AttributeType.PASSWORD, required = false,
            description = "For gated and private repos. The HF_TOKEN environment variable overrides it.")
    String _token() default "";
}
