package io.loadstone.ui.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;

import org.junit.jupiter.api.Test;

class HostCheckTest {

    private final HostCheck local = HostCheck.of(AccessTest.config(7860, false, "", false));

    @Test
    void loopbackNamesWithThePortPass() {
        assertTrue(local.allows("127.0.0.1:7860", "127.0.0.1", 7860));
        assertTrue(local.allows("localhost:7860", "127.0.0.1", 7860));
        assertTrue(local.allows("LOCALHOST.:7860", "127.0.0.1", 7860));
        assertTrue(local.allows("localhost", "127.0.0.1", 7860));
        assertTrue(local.allows("[::1]:7860", "0:0:0:0:0:0:0:1", 7860));
        assertTrue(local.allows("[0:0::1]:7860", "127.0.0.1", 7860));
    }

    @Test
    void rebindingNamesAndWrongPortsAreRefused() {
        assertFalse(local.allows("attacker.example:7860", "127.0.0.1", 7860));
        assertFalse(local.allows("localhost.attacker.example:7860", "127.0.0.1", 7860));
        assertFalse(local.allows("127.0.0.1.nip.io:7860", "127.0.0.1", 7860));
        assertFalse(local.allows("localhost:7861", "127.0.0.1", 7860));
        assertFalse(local.allows("localhost:78x0", "127.0.0.1", 7860));
        assertFalse(local.allows("[::1", "127.0.0.1", 7860));
        assertFalse(local.allows("", "127.0.0.1", 7860));
        assertFalse(local.allows(null, "127.0.0.1", 7860));
    }

    @Test
    void theAddressTheRequestArrivedOnPasses() {
        assertTrue(local.allows("192.168.1.20:7860", "192.168.1.20", 7860));
        assertFalse(local.allows("192.168.1.21:7860", "192.168.1.20", 7860));
        assertTrue(local.allows("[fe80::1]:7860", "fe80:0:0:0:0:0:0:1%eth0", 7860));
    }

    @Test
    void configuredNamesPassForListen() {
        HostCheck h = HostCheck.of(AccessTest.config(7860, true, "k", false, "box.lan, Other.Example", "[fd00::2]"));
        assertEquals(Set.of("box.lan", "other.example", "[fd00::2]"), h.names());
        assertTrue(h.allows("box.lan:7860", "10.0.0.2", 7860));
        assertTrue(h.allows("other.example:7860", "10.0.0.2", 7860));
        assertTrue(h.allows("[fd00:0::2]:7860", "10.0.0.2", 7860));
        assertFalse(h.allows("attacker.example:7860", "10.0.0.2", 7860));
    }

    @Test
    void listenWithoutNamesTakesTheMachinesOwn() {
        HostCheck h = HostCheck.of(AccessTest.config(7860, true, "k", false));
        assertTrue(h.names().equals(HostCheck.ownNames()));
        assertFalse(h.allows("attacker.example:7860", "10.0.0.2", 7860));
        // Without --listen the machine's own name is not added: only loopback is served.
        assertTrue(local.names().isEmpty());
    }
}
