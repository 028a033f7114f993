package io.loadstone.natives;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class PlatformTest {

    @Test
    void namesMatchTheFragments() {
        assertEquals("linux-x86_64", Platform.of("Linux", "amd64"));
        assertEquals("linux-aarch64", Platform.of("Linux", "aarch64"));
        assertEquals("macos-aarch64", Platform.of("Mac OS X", "aarch64"));
        assertEquals("macos-x86_64", Platform.of("Mac OS X", "x86_64"));
        assertEquals("windows-x86_64", Platform.of("Windows 11", "amd64"));
        assertEquals("io.loadstone.llamacpp-" + Platform.current(), Platform.fragmentName("io.loadstone.llamacpp-"));
    }
}
