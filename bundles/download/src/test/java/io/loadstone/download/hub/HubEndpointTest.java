package io.loadstone.download.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import io.loadstone.download.RepoRef;

/** URLs, the token rule, Retry-After and backoff. */
class HubEndpointTest {

    final HubEndpoint official = new HubEndpoint(URI.create("https://huggingface.co/"), Optional.of("hf_abc"));
    final HubEndpoint mirror = new HubEndpoint(URI.create("https://mirror.example.org"), Optional.of("hf_abc"));

    @ParameterizedTest(name = "{0} gets the token from the official Hub: {1}")
    @CsvSource({
        "https://huggingface.co/api/models/a/b/tree/main, true",
        "https://huggingface.co:443/a/b/resolve/main/x, true",
        "https://cdn-lfs.huggingface.co/repos/ab/cd/xyz?X-Amz-Signature=s, true",
        "https://cdn-lfs-us-1.hf.co/repos/ab/cd/xyz, true",
        "https://cas-bridge.xethub.hf.co/xet-bridge-us/x, true",
        "http://cdn-lfs.huggingface.co/repos/x, false",
        "https://cdn-lfs.huggingface.co:8443/repos/x, false",
        "https://huggingface.co.evil.example/x, false",
        "https://evilhuggingface.co/x, false",
        "https://s3.amazonaws.com/bucket/x, false",
        "https://hf.co.evil.example/x, false",
    })
    void tokenRuleOfTheOfficialHub(String url, boolean allowed) {
        assertEquals(allowed, official.mayReceiveToken(URI.create(url)));
        assertEquals(allowed ? Optional.of("Bearer hf_abc") : Optional.empty(),
                official.authorizationFor(URI.create(url)));
    }

    @Test
    void aMirrorSendsTheTokenOnlyToItself() {
        assertTrue(mirror.mayReceiveToken(URI.create("https://mirror.example.org/a/b/resolve/main/x")));
        assertFalse(mirror.mayReceiveToken(URI.create("https://cdn.mirror.example.org/x")));
        assertFalse(mirror.mayReceiveToken(URI.create("https://cdn-lfs.huggingface.co/x")),
                "a mirror's redirects are not the Hub's CDN");
        assertFalse(mirror.mayReceiveToken(URI.create("http://mirror.example.org/x")), "not over plain HTTP");
    }

    @Test
    void urlsEncodeBranchAsOneSegmentAndFilePathsPerSegment() {
        RepoRef ref = RepoRef.of("acme/tiny", "refs/pr/1");
        assertEquals("https://huggingface.co/api/models/acme/tiny/tree/refs%2Fpr%2F1?recursive=true",
                official.treeUri(ref).toString());
        assertEquals("https://huggingface.co/acme/tiny/resolve/refs%2Fpr%2F1/sub%20dir/model%2B1.gguf",
                official.resolveUri(ref, "sub dir/model+1.gguf").toString());
        assertEquals("https://huggingface.co/acme/tiny", official.repoPage(ref).toString());
    }

    @Test
    void tokenIsNeverInToStringAndMustBePrintable() {
        assertFalse(official.toString().contains("hf_abc"));
        assertThrows(IllegalArgumentException.class,
                () -> new HubEndpoint(URI.create("https://huggingface.co"), Optional.of("hf_a\nb")));
        assertFalse(new HubEndpoint(URI.create("https://huggingface.co"), Optional.of("  ")).hasToken());
    }

    @Test
    void endpointMustBeAPlainHttpUrl() {
        assertThrows(IllegalArgumentException.class, () -> HubEndpoint.normalise(URI.create("ftp://x.org")));
        assertThrows(IllegalArgumentException.class, () -> HubEndpoint.normalise(URI.create("https://u:p@x.org")));
        assertThrows(IllegalArgumentException.class, () -> HubEndpoint.normalise(URI.create("https://x.org/?a=1")));
        assertEquals(URI.create("https://x.org/hub"), HubEndpoint.normalise(URI.create("https://x.org/hub//")));
    }

    @Test
    void retryAfterInSecondsOrAsADate() {
        Instant now = Instant.parse("2026-11-23T12:00:00Z");
        assertEquals(Optional.of(Duration.ofSeconds(7)), HubErrors.retryAfter(headers("7"), now));
        assertEquals(Optional.of(Duration.ofSeconds(90)),
                HubErrors.retryAfter(headers("Mon, 23 Nov 2026 12:01:30 GMT"), now));
        assertEquals(Optional.of(Duration.ZERO), HubErrors.retryAfter(headers("Mon, 23 Nov 2026 11:00:00 GMT"), now));
        assertEquals(Optional.empty(), HubErrors.retryAfter(headers("soon"), now));
        assertEquals(Optional.empty(), HubErrors.retryAfter(Headers.of(Map.of()), now));
    }

    static Headers headers(String retryAfter) {
        return Headers.of(Map.of("retry-after", List.of(retryAfter)));
    }

    @Test
    void backoffGrowsExponentiallyWithJitterAndIsCapped() {
        RetryPolicy p = new RetryPolicy(5, Duration.ofMillis(100), Duration.ofMillis(1000), Duration.ofSeconds(60));
        for (int i = 0; i < 200; i++) {
            long first = p.backoff(1).toMillis();
            long third = p.backoff(3).toMillis();
            long tenth = p.backoff(10).toMillis();
            assertTrue(first >= 50 && first <= 100, "first " + first);
            assertTrue(third >= 200 && third <= 400, "third " + third);
            assertTrue(tenth >= 500 && tenth <= 1000, "capped " + tenth);
        }
        long distinct = java.util.stream.IntStream.range(0, 50).mapToLong(i -> p.backoff(4).toMillis()).distinct()
                .count();
        assertTrue(distinct > 5, "jitter spreads the waits");
    }
}
