package io.loadstone.download;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.function.Function;

import io.loadstone.download.service.Settings;

/** Settings for tests: the fake Hub, short waits, no free-space margin, an empty environment. */
public final class TestSettings {

    private TestSettings() {
    }

    public static Settings of(URI hub, Path root) {
        return Settings.defaults().withEndpoint(hub).withDirs(root.resolve("models"), root.resolve("loras"))
                .withRetries(3, Duration.ofMillis(10), Duration.ofMillis(50), Duration.ofSeconds(5))
                .withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(5)).withFreeSpaceMargin(0);
    }

    /** No HF_TOKEN, HF_ENDPOINT or HOME: nothing from the machine running the tests leaks in. */
    public static Function<String, String> env(Map<String, String> vars) {
        return vars::get;
    }

    public static Function<String, String> noEnv() {
        return name -> null;
    }
}
