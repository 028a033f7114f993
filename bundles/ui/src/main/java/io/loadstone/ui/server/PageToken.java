package io.loadstone.ui.server;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

import org.osgi.service.component.annotations.Component;

/**
 * A secret made once per start and written into the web page's HTML. Routes that install or
 * remove code (the Plugins tab) require it (or the API key), so a bare POST from another local
 * program or a page elsewhere cannot install a plugin even when no API key is set: only a page
 * this server served can read it (browsers keep other origins from reading the HTML, and the
 * Host check keeps rebinding pages from being "this origin").
 */
@Component(service = PageToken.class)
public final class PageToken {

    /** Request header the page sends the token in. */
    public static final String HEADER = "X-Loadstone-Token";

    private final String value;

    public PageToken() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        value = Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** URL- and HTML-safe (base64url). */
    public String value() {
        return value;
    }

    /** Constant-time, so the token cannot be guessed byte by byte from response times. */
    public boolean matches(String given) {
        return given != null && MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8),
                value.getBytes(StandardCharsets.UTF_8));
    }
}
