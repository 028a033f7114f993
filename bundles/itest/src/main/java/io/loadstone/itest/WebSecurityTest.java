package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;

import com.google.gson.JsonObject;

import io.loadstone.api.runtime.ModelManager;

/**
 * What a hostile web page or local program tries against the server, over real sockets: DNS
 * rebinding (a foreign Host header), dot-segment paths around the API key, plugin routes
 * without the page's token, Referer-only cross-site posts, and guessing the key at the login.
 */
class WebSecurityTest {

    private ModelManager manager;
    private Bundle echo;
    private WebServer web;

    @BeforeEach
    void setUp() throws Exception {
        Path models = Framework.workDir("security-models");
        Files.createDirectories(models.resolve("echo-story"));
        Files.writeString(models.resolve("echo-story/echo-model.txt"), OpenAiApiTest.TEXT);
        manager = Framework.useModels(models);
        echo = Framework.startEchoLoader(manager);
        web = WebServer.start();
    }

    @AfterEach
    void tearDown() throws Exception {
        web = WebServer.start("api.key", "");
        for (Bundle b : Framework.context().getBundles()) {
            if ("io.loadstone.itest-loader".equals(b.getSymbolicName())) {
                b.uninstall();
            }
        }
    }

    private String host() {
        return "127.0.0.1:" + web.base.getPort();
    }

    @Test
    void aRebindingPageIsRefusedWith421() throws Exception {
        String attacker = "attacker.example:" + web.base.getPort();
        var r = web.raw("GET /ui/api/state HTTP/1.1\r\nHost: " + attacker + "\r\n", null);
        assertEquals(421, r.status(), r.body());
        assertEquals("host_not_allowed", r.error().get("code").getAsString());
        assertTrue(r.error().get("message").getAsString().contains("attacker.example"), r.body());
        // Its "same-origin" upload, the code-execution path the issue reproduced.
        byte[] jar = Files.readAllBytes(Framework.testBundle("itest-loader.jar"));
        r = web.raw("POST /ui/api/plugins/install HTTP/1.1\r\nHost: " + attacker + "\r\nOrigin: http://" + attacker
                + "\r\nContent-Type: application/java-archive\r\n", jar);
        assertEquals(421, r.status(), r.body());
        r = web.raw("POST /v1/completions HTTP/1.1\r\nHost: " + attacker + "\r\nContent-Type: application/json\r\n",
                "{\"prompt\":\"x\"}".getBytes(StandardCharsets.UTF_8));
        assertEquals(421, r.status(), r.body());
        // The loopback names are served.
        for (String h : new String[] {host(), "localhost:" + web.base.getPort(), "127.0.0.1"}) {
            assertEquals(200, web.raw("GET /ui/api/state HTTP/1.1\r\nHost: " + h + "\r\n", null).status(), h);
        }
        assertEquals(421, web.raw("GET / HTTP/1.1\r\nHost: localhost:1\r\n", null).status(), "another port");
    }

    @Test
    void configuredNamesAreServed() throws Exception {
        web = WebServer.start("allowed.hosts", new String[] {"box.lan"});
        assertEquals(200, web.raw("GET /ui/api/state HTTP/1.1\r\nHost: box.lan:" + web.base.getPort() + "\r\n", null)
                .status());
        assertEquals(421, web.raw("GET /ui/api/state HTTP/1.1\r\nHost: other.lan:" + web.base.getPort() + "\r\n",
                null).status());
    }

    @Test
    void pluginRoutesNeedThePageTokenScriptsDoNot() throws Exception {
        long id = echo.getBundleId();
        var r = web.post("ui/api/plugins/" + id + "/uninstall", "{}");
        assertEquals(403, r.statusCode(), r.body());
        assertEquals("missing_page_token", WebServer.json(r).getAsJsonObject().getAsJsonObject("error").get("code")
                .getAsString());
        r = web.post("ui/api/plugins/" + id + "/uninstall", "{}", "X-Loadstone-Token", "guessed");
        assertEquals(403, r.statusCode(), r.body());
        assertEquals(Bundle.ACTIVE, echo.getState(), "nothing was uninstalled");
        byte[] jar = Files.readAllBytes(Framework.testBundle("itest-loader.jar"));
        var up = web.raw("POST /ui/api/plugins/install HTTP/1.1\r\nHost: " + host()
                + "\r\nContent-Type: application/java-archive\r\n", jar);
        assertEquals(403, up.status(), up.body());
        // The OpenAI and /v1/internal routes stay usable by scripts without it.
        assertEquals(200, web.get("v1/internal/model/list").statusCode());
        assertEquals(200, web.post("v1/internal/model/load", "{\"model_name\":\"echo-story\"}").statusCode());
        // The page's own token works.
        String token = web.pageToken();
        r = web.post("ui/api/plugins/" + id + "/uninstall", "{}", "X-Loadstone-Token", token);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(Bundle.UNINSTALLED, echo.getState());
    }

    @Test
    void dotSegmentsDoNotGetAroundTheKey() throws Exception {
        web = WebServer.start("api.key", "s3cret");
        for (String path : new String[] {"/static/../ui/api/plugins", "/static/%2e%2e/ui/api/plugins",
                "/static/..;/ui/api/plugins", "/static/.%2e/ui/api/state", "/./ui/api/state"}) {
            var r = web.raw("GET " + path + " HTTP/1.1\r\nHost: " + host() + "\r\n", null);
            assertTrue(r.status() == 400 || r.status() == 401 || r.status() == 404, path + " answered " + r.status()
                    + ": " + r.body());
            assertFalse(r.body().contains("\"bundles\""), path + " leaked the plugin list");
        }
        assertEquals(401, web.raw("GET /ui/api/plugins HTTP/1.1\r\nHost: " + host() + "\r\n", null).status());
        assertEquals(200, web.raw("GET /static/app.js HTTP/1.1\r\nHost: " + host() + "\r\n", null).status());
        var ok = web.raw("GET /ui/api/plugins HTTP/1.1\r\nHost: " + host() + "\r\nAuthorization: Bearer s3cret\r\n",
                null);
        assertEquals(200, ok.status(), ok.body());
        // The key stands in for the page token: scripts with the key may manage plugins.
        var r = web.post("ui/api/plugins/" + echo.getBundleId() + "/stop", "{}", "Authorization", "Bearer s3cret");
        assertEquals(200, r.statusCode(), r.body());
    }

    @Test
    void aRefererFromAnotherSiteCountsAsItsOrigin() throws Exception {
        var r = web.post("v1/internal/model/load", "{\"model_name\":\"echo-story\"}", "Referer",
                "http://evil.example/page.html");
        assertEquals(403, r.statusCode(), r.body());
        assertTrue(manager.loaded().isEmpty());
        r = web.post("v1/internal/model/load", "{\"model_name\":\"echo-story\"}", "Referer",
                web.base.resolve("index.html").toString());
        assertEquals(200, r.statusCode(), r.body());
    }

    @Test
    void theLoginCookieIsNotTheKeyAndGuessingIsLimited() throws Exception {
        web = WebServer.start("api.key", "s3cret");
        var login = web.post("ui/api/login", "{\"key\":\"s3cret\"}");
        assertEquals(200, login.statusCode(), login.body());
        String cookie = login.headers().firstValue("Set-Cookie").orElseThrow().split(";")[0];
        assertFalse(cookie.contains("s3cret"), cookie);
        assertEquals(200, web.get("ui/api/state", "Cookie", cookie).statusCode());
        assertEquals(401, web.get("ui/api/state", "Cookie", "loadstone_key=s3cret").statusCode(),
                "the raw key is no session");
        int refused = 0;
        for (int i = 0; i < 15; i++) {
            var r = web.post("ui/api/login", "{\"key\":\"guess" + i + "\"}");
            assertNotEquals(200, r.statusCode());
            if (r.statusCode() == 429) {
                refused++;
                JsonObject e = WebServer.json(r).getAsJsonObject().getAsJsonObject("error");
                assertEquals("too_many_attempts", e.get("code").getAsString());
            }
        }
        assertEquals(5, refused, "10 wrong keys a minute, then 429");
        assertEquals(429, web.post("ui/api/login", "{\"key\":\"s3cret\"}").statusCode(), "even the right key waits");
        assertEquals(200, web.get("ui/api/state", "Cookie", cookie).statusCode(), "a session already made lives on");
    }

    /** Values a user gets wrong are 400s naming the field, never 500s (they were, before). */
    @Test
    void userMistakesAre400sNamingTheField() throws Exception {
        String[][] cases = {
            {"v1/completions", "{\"prompt\":\"x\",\"temperature\":1e-320}", "temperature"},
            {"v1/completions", "{\"prompt\":\"x\",\"repetition_penalty\":0}", "repetition_penalty"},
            {"v1/completions", "{\"prompt\":\"x\",\"typical_p\":0}", "typical_p"},
            {"v1/internal/model/load", "{\"model_name\":\"echo-story\",\"args\":{\"loader\":{\"x\":1}}}",
                "args.loader"},
        };
        for (String[] c : cases) {
            var r = web.post(c[0], c[1]);
            assertEquals(400, r.statusCode(), c[1] + ": " + r.body());
            assertEquals(c[2], WebServer.json(r).getAsJsonObject().getAsJsonObject("error").get("param").getAsString());
        }
        var r = web.post("v1/completions", "{\"prompt\": \"x\",");
        assertEquals(400, r.statusCode(), r.body());
        assertFalse(r.body().contains("https://"), "no link to Gson's troubleshooting page: " + r.body());
        assertEquals(200, web.post("v1/internal/model/load", "{\"model_name\":\"echo-story\"}").statusCode());
        assertEquals(200, web.post("v1/completions", "{\"prompt\":\"x\",\"max_tokens\":1}").statusCode());
    }
}
