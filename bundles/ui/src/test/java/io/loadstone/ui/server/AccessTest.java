package io.loadstone.ui.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.annotation.Annotation;

import org.junit.jupiter.api.Test;

class AccessTest {

    static ServerConfig config(int port, boolean listen, String key, boolean noAuth, String... allowedHosts) {
        return new ServerConfig() {
            @Override
            public String[] allowed_hosts() {
                return allowedHosts;
            }

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

    @Test
    void dotSegmentsPlainOrEncodedAreFound() {
        assertTrue(AccessFilter.hasDotSegment("/static/../ui/api/plugins"));
        assertTrue(AccessFilter.hasDotSegment("/static/%2e%2E/ui/api/plugins"));
        assertTrue(AccessFilter.hasDotSegment("/static/..;x=1/ui/api/plugins"));
        assertTrue(AccessFilter.hasDotSegment("/static/.%2fui"));
        assertTrue(AccessFilter.hasDotSegment("/static/x%2f..%2fui"));
        assertTrue(AccessFilter.hasDotSegment("/./v1/models"));
        assertTrue(AccessFilter.hasDotSegment("/static/.."));
        assertFalse(AccessFilter.hasDotSegment("/static/app.js"));
        assertFalse(AccessFilter.hasDotSegment("/static/..app.js"));
        assertFalse(AccessFilter.hasDotSegment("/v1/models"));
        assertFalse(AccessFilter.hasDotSegment("/"));
    }

    @Test
    void onlyPluginRoutesNeedThePageToken() {
        assertTrue(AccessFilter.installsCode("/ui/api/plugins/install"));
        assertTrue(AccessFilter.installsCode("/ui/api/plugins/12/uninstall"));
        assertFalse(AccessFilter.installsCode("/ui/api/plugins"));
        assertFalse(AccessFilter.installsCode("/v1/internal/model/load"));
        assertFalse(AccessFilter.installsCode("/v1/completions"));
    }
}
