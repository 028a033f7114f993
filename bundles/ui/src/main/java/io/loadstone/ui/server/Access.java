package io.loadstone.ui.server;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * The decision every request passes: which key is required and where the server listens.
 * Computed once per configuration so that the filter and the HTTP bridge agree.
 *
 * @param port     the port to use
 * @param host     interface to bind: 127.0.0.1, or null for all interfaces
 * @param apiKey   key clients must present, or empty when none is needed
 * @param problem  why a requested --listen was refused, or null
 */
public record Access(int port, String host, String apiKey, String problem) {

    public static final String LOCALHOST = "127.0.0.1";

    public static Access of(ServerConfig c) {
        String key = c.api_key() == null ? "" : c.api_key().trim();
        int port = c.port() < 0 || c.port() > 65535 ? 7860 : c.port();
        if (!c.listen()) {
            return new Access(port, LOCALHOST, key, null);
        }
        if (key.isEmpty() && !c.allow_no_auth()) {
            // Binding every interface without a key would hand the machine to the whole network
            // (plugin upload runs code), so the wide listener is refused and only this machine is served.
            return new Access(port, LOCALHOST, key, "--listen was refused: serving every network interface needs "
                    + "an API key. Start with '--listen --api-key KEY' (clients then send 'Authorization: "
                    + "Bearer KEY'), or add --no-auth to let anyone on the network in without a key. Serving "
                    + "only this machine (" + LOCALHOST + ":" + port + ") until then.");
        }
        return new Access(port, null, key, null);
    }

    public boolean keyRequired() {
        return !apiKey.isEmpty();
    }

    /** Constant-time comparison, so the key cannot be guessed byte by byte from response times. */
    public boolean keyMatches(String given) {
        if (given == null || apiKey.isEmpty()) {
            return false;
        }
        return MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), apiKey.getBytes(StandardCharsets.UTF_8));
    }
}
