package io.loadstone.ui.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.annotation.Annotation;

import org.junit.jupiter.api.Test;

class AccessTest {

    private static ServerConfig config(int port, boolean listen, String key, boolean noAuth) {
        return new ServerConfig() {
            @Override
            public Class<? extends Annotation> annotationType() {
                return ServerConfig.class;
            }

            @Override
            public int port() {
                return port;
            }

            @Override
            public boolean listen() {
                return listen;
            }

            @Override
            public String api_key() {
                return key;
            }

            @Override
            public boolean allow_no_auth() {
                return noAuth;
            }

            @Override
            public boolean load_on_demand() {
                return true;
            }
        };
    }

    @Test
    void localOnlyByDefault() {
        Access a = Access.of(config(7860, false, "", false));
        assertEquals(Access.LOCALHOST, a.host());
        assertFalse(a.keyRequired());
        assertNull(a.problem());
    }

    @Test
    void listenWithoutKeyIsRefusedAndStaysLocal() {
        Access a = Access.of(config(7860, true, "", false));
        assertEquals(Access.LOCALHOST, a.host());
        assertNotNull(a.problem());
        assertTrue(a.problem().contains("--api-key") && a.problem().contains("--no-auth"), a.problem());
    }

    @Test
    void listenWithKeyOrExplicitNoAuthServesAllInterfaces() {
        Access keyed = Access.of(config(8000, true, " k ", false));
        assertNull(keyed.host());
        assertTrue(keyed.keyMatches("k"));
        assertFalse(keyed.keyMatches("K"));
        assertFalse(keyed.keyMatches(null));
        Access open = Access.of(config(8000, true, "", true));
        assertNull(open.host());
        assertFalse(open.keyRequired());
        assertFalse(open.keyMatches(""), "an empty key never matches");
    }

    @Test
    void pageAssetsArePublicApiIsNot() {
        assertTrue(AccessFilter.isPublic("GET", "/"));
        assertTrue(AccessFilter.isPublic("GET", "/static/app.js"));
        assertFalse(AccessFilter.isPublic("POST", "/"));
        assertFalse(AccessFilter.isPublic("GET", "/v1/models"));
        assertFalse(AccessFilter.isPublic("GET", "/ui/api/state"));
    }
}
