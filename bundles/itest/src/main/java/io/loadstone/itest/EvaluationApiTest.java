package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import io.loadstone.api.runtime.ModelManager;

/**
 * Perplexity evaluation over real HTTP with the real llama.cpp loader and the starter model
 * (stories260K.gguf): the page's job API (start, progress on the page event stream, cancel, one job at a
 * time) and the scripts' synchronous {@code POST /v1/internal/perplexity} agree, results land in the log
 * and come back from {@code GET /v1/internal/evaluations} newest first, bad input is a 400 naming the
 * field, no model loaded (or one whose loader has no logits) a 409, a name that is no model a 404, and
 * without the evaluation bundle the routes
 * say to install it (503) until it is back.
 */
class EvaluationApiTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    /** A short story: a handful of windows at stride 64 / max_length 128. */
    private static final String STORY = """
            Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine. One
            day, she saw a big, red ball in the park. She wanted to play with it, but it was too high in the tree.
            Lily asked her mom for help. Her mom said, "Let's get a stick and try to get the ball down." They found
            a long stick and tried to reach the ball. After a few tries, the ball fell down. Lily was very happy.
            She played with the ball all day long. When it was time to go home, Lily said thank you to her mom.
            They walked home together, holding hands and smiling. The sun was setting and the sky was pink.
            Lily went to bed and dreamed about the big, red ball. The next day, she went back to the park to play
            again. She saw a boy named Tom. Tom was sad because he lost his toy car. Lily said, "I will help you
            find it." They looked under the slide and behind the bench. At last, they found the car in the sand.
            Tom was so happy. He gave Lily a big hug. From that day on, Lily and Tom were best friends.
            """;

    private ModelManager manager;
    private WebServer web;
    private Path models;
    /** Marks this run's rows in the shared log (the itest home outlives one run). */
    private final String run = UUID.randomUUID().toString().substring(0, 8);
    private InputStream events;
    private final List<String> received = new CopyOnWriteArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        models = Framework.workDir("evaluation-models");
        Files.copy(Framework.testBundle("stories260K.gguf"), models.resolve("stories260K.gguf"));
        manager = Framework.useModels(models);
        Framework.await("llama.cpp loader", WAIT, () -> manager.loaders().stream().anyMatch(l -> l.id().equals(
                "llama.cpp")));
        Bundle evaluation = Framework.bundle("io.loadstone.evaluation");
        assertNotNull(evaluation, "the evaluation bundle is in the test framework");
        evaluation.start();
        web = WebServer.start();
        Framework.await("evaluation API available", WAIT, () -> overview().get("available").getAsBoolean());
        manager.load("stories260K.gguf", "llama.cpp", Map.of("n_ctx", 256, "threads", 2));
    }

    @AfterEach
    void tearDown() throws Exception {
        if (events != null) {
            events.close();
        }
        try {
            web.post("ui/api/evaluation/cancel", "{}");
            Framework.await("no evaluation running", WAIT, () -> !running());
        } finally {
            Bundle evaluation = Framework.bundle("io.loadstone.evaluation");
            if (evaluation != null) {
                evaluation.start();
            }
            for (var s : manager.loaded()) {
                manager.unload(s.name());
            }
        }
    }

    private JsonObject overview() {
        try {
            HttpResponse<String> r = web.get("ui/api/evaluation");
            assertEquals(200, r.statusCode(), r.body());
            return obj(r);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private boolean running() {
        JsonObject o = overview();
        return o.has("job") && o.get("job").isJsonObject() && o.getAsJsonObject("job").get("state").getAsString()
                .equals("running");
    }

    private static JsonObject obj(HttpResponse<String> r) {
        return WebServer.json(r).getAsJsonObject();
    }

    private static String error(HttpResponse<String> r) {
        return obj(r).getAsJsonObject("error").get("message").getAsString();
    }

    private static String code(HttpResponse<String> r) {
        return obj(r).getAsJsonObject("error").get("code").getAsString();
    }

    private static String body(String text, int stride, int maxLength, String method, boolean force, String comment) {
        JsonObject o = new JsonObject();
        o.addProperty("text", text);
        o.addProperty("stride", stride);
        o.addProperty("max_length", maxLength);
        o.addProperty("method", method);
        o.addProperty("force", force);
        o.addProperty("comment", comment);
        return o.toString();
    }

    /** A text long enough that stride 1 over full-context windows takes many seconds on the tiny model. */
    private static String longText() {
        return STORY.repeat(12);
    }

    @Test
    void pastedTextThroughBothRoutesGivesTheSamePerplexityAndIsLogged() throws Exception {
        Instant before = Instant.now();
        // Scripts: synchronous, the result as JSON.
        HttpResponse<String> sync = web.post("v1/internal/perplexity", body(STORY, 64, 128, "windows", true,
                run + " sync"));
        assertEquals(200, sync.statusCode(), sync.body());
        JsonObject a = obj(sync);
        double ppl = a.get("perplexity").getAsDouble();
        assertTrue(ppl > 1 && ppl < 512, "a perplexity between 1 and the vocabulary size: " + a);
        assertEquals("stories260K.gguf", a.get("model").getAsString());
        assertEquals("llama.cpp", a.get("loader").getAsString());
        assertEquals("windows", a.get("method").getAsString());
        assertEquals(64, a.get("stride").getAsInt());
        assertEquals(128, a.get("max_length").getAsInt());
        assertTrue(a.get("tokens").getAsInt() > 128, a.toString());
        assertTrue(a.get("windows").getAsInt() >= 2, a.toString());
        assertFalse(a.get("from_log").getAsBoolean());

        // The page: start, watch the job, same numbers.
        listen();
        HttpResponse<String> start = web.post("ui/api/evaluation", body(STORY, 64, 128, "windows", true, run
                + " page"));
        assertEquals(200, start.statusCode(), start.body());
        String id = obj(start).get("id").getAsString();
        Framework.await("job " + id + " done", WAIT, () -> {
            JsonObject j = overview().getAsJsonObject("job");
            return j.get("id").getAsString().equals(id) && !j.get("state").getAsString().equals("running");
        });
        JsonObject job = overview().getAsJsonObject("job");
        assertEquals("done", job.get("state").getAsString(), job.toString());
        JsonObject b = job.getAsJsonObject("result");
        assertEquals(ppl, b.get("perplexity").getAsDouble(), 1e-6 * ppl, "same text, same model: " + a + " vs " + b);
        assertEquals(a.get("tokens").getAsInt(), b.get("tokens").getAsInt());
        assertEquals(1.0, job.get("fraction").getAsDouble());
        Framework.await("the job's end on the page event stream", WAIT, () -> received.stream().anyMatch(l -> l
                .startsWith("evaluation ") && l.contains("\"id\":\"" + id + "\"") && l.contains("\"state\":\"done\"")));

        // Without force the log answers.
        HttpResponse<String> again = web.post("v1/internal/perplexity", body(STORY, 64, 128, "windows", false,
                run + " again"));
        assertEquals(200, again.statusCode(), again.body());
        assertTrue(obj(again).get("from_log").getAsBoolean(), again.body());
        assertEquals(ppl, obj(again).get("perplexity").getAsDouble(), 1e-4 * ppl);

        // llama.cpp's method: a different recipe on the same text, still a sane number.
        HttpResponse<String> chunks = web.post("v1/internal/perplexity", body(STORY, 512, 128, "chunks", true,
                run + " chunks"));
        assertEquals(200, chunks.statusCode(), chunks.body());
        JsonObject c = obj(chunks);
        assertEquals("chunks", c.get("method").getAsString());
        assertTrue(c.get("perplexity").getAsDouble() > 1 && c.get("perplexity").getAsDouble() < 512, c.toString());

        // History: this run's three computed rows, newest first, from the CSV log.
        HttpResponse<String> h = web.get("v1/internal/evaluations");
        assertEquals(200, h.statusCode(), h.body());
        assertTrue(Files.isRegularFile(Path.of(obj(h).get("log_file").getAsString())), h.body());
        JsonArray rows = obj(h).getAsJsonArray("evaluations");
        List<String> ours = rows.asList().stream().map(r -> r.getAsJsonObject().get("comment").getAsString())
                .filter(s -> s.startsWith(run)).toList();
        assertEquals(List.of(run + " chunks", run + " page", run + " sync"), ours, h.body());
        Instant newest = Instant.parse(rows.get(0).getAsJsonObject().get("date").getAsString());
        assertFalse(newest.isBefore(before.minusSeconds(1)), "newest first: " + rows.get(0));
        for (int i = 1; i < rows.size(); i++) {
            assertFalse(Instant.parse(rows.get(i).getAsJsonObject().get("date").getAsString()).isAfter(Instant.parse(
                    rows.get(i - 1).getAsJsonObject().get("date").getAsString())), "newest first at row " + i);
        }
        // The page's overview carries the same history.
        assertEquals(rows.size(), overview().getAsJsonArray("history").size());
    }

    @Test
    void oneJobAtATimeProgressReachesThePageAndCancelStopsIt() throws Exception {
        listen();
        HttpResponse<String> start = web.post("ui/api/evaluation", body(longText(), 1, 0, "windows", true, run
                + " long"));
        assertEquals(200, start.statusCode(), start.body());
        String id = obj(start).get("id").getAsString();
        Framework.await("progress events with windows done on the page stream", WAIT, () -> received.stream()
                .filter(l -> l.startsWith("evaluation ") && l.contains("\"id\":\"" + id + "\"")).map(l -> JsonParser
                        .parseString(l.substring("evaluation ".length())).getAsJsonObject()).anyMatch(o -> o.get(
                                "state").getAsString().equals("running") && o.get("windowsDone").getAsInt() > 0
                                && o.get("windowsTotal").getAsInt() > 1000));

        // Busy: both routes say so, naming the running job.
        HttpResponse<String> busy = web.post("v1/internal/perplexity", body(STORY, 64, 128, "windows", true, run));
        assertEquals(409, busy.statusCode(), busy.body());
        assertEquals("evaluation_running", code(busy));
        assertTrue(error(busy).contains("stories260K.gguf"), error(busy));
        HttpResponse<String> busy2 = web.post("ui/api/evaluation", body(STORY, 64, 128, "windows", true, run));
        assertEquals(409, busy2.statusCode(), busy2.body());

        HttpResponse<String> cancel = web.post("ui/api/evaluation/cancel", "{}");
        assertEquals(200, cancel.statusCode(), cancel.body());
        Framework.await("job cancelled", WAIT, () -> overview().getAsJsonObject("job").get("state").getAsString()
                .equals("cancelled"));
        JsonObject job = overview().getAsJsonObject("job");
        assertTrue(job.get("windowsDone").getAsInt() < job.get("windowsTotal").getAsInt(), job.toString());
        assertTrue(job.get("message").getAsString().contains("Cancelled"), job.toString());
        Framework.await("the cancel on the page stream", WAIT, () -> received.stream().anyMatch(l -> l.startsWith(
                "evaluation ") && l.contains("\"id\":\"" + id + "\"") && l.contains("\"state\":\"cancelled\"")));
        // Nothing logged for a cancelled job, and the slot is free again.
        assertTrue(overview().getAsJsonArray("history").asList().stream().noneMatch(r -> r.getAsJsonObject().get(
                "comment").getAsString().equals(run + " long")));
        HttpResponse<String> after = web.post("v1/internal/perplexity", body(STORY, 64, 128, "windows", true, run
                + " after"));
        assertEquals(200, after.statusCode(), after.body());
    }

    @Test
    void badInputIs400NamingTheField() throws Exception {
        HttpResponse<String> r = web.post("v1/internal/perplexity", body(STORY, 0, 128, "windows", true, run));
        assertEquals(400, r.statusCode(), r.body());
        assertEquals("stride", obj(r).getAsJsonObject("error").get("param").getAsString());
        r = web.post("v1/internal/perplexity", body(STORY, 64, 128, "bogus", true, run));
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(error(r).contains("chunks"), error(r));
        r = web.post("v1/internal/perplexity", "{\"dataset\":\"no-such-file.txt\"}");
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(error(r).contains("no-such-file.txt"), error(r));
        r = web.post("v1/internal/perplexity", "{\"dataset\":\"a.txt\",\"text\":\"hello\"}");
        assertEquals(400, r.statusCode(), r.body());
        r = web.post("ui/api/evaluation", "{}");
        assertEquals(400, r.statusCode(), r.body());
        r = web.post("v1/internal/perplexity", "not json");
        assertEquals(400, r.statusCode(), r.body());
        assertEquals(405, web.get("v1/internal/perplexity").statusCode());
        // Refused by the evaluator itself: its message and its fix, as a 400.
        r = web.post("v1/internal/perplexity", body(STORY, 64, 1000, "windows", true, run));
        assertEquals(400, r.statusCode(), r.body());
        assertEquals("evaluation_failed", code(r));
        assertTrue(error(r).contains("1000") && error(r).contains("256 or less"), error(r));
    }

    @Test
    void theApiKeyGuardsTheScriptsRoutes() throws Exception {
        web = WebServer.start("api.key", "sesame-" + run);
        HttpResponse<String> r = web.post("v1/internal/perplexity", body(STORY, 64, 128, "windows", false, run));
        assertEquals(401, r.statusCode(), r.body());
        assertEquals(401, web.get("v1/internal/evaluations").statusCode());
        r = web.post("v1/internal/perplexity", body(STORY, 64, 128, "windows", false, run), "Authorization",
                "Bearer sesame-" + run);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(200, web.get("v1/internal/evaluations", "Authorization", "Bearer sesame-" + run).statusCode());
        web = WebServer.start();
    }

    @Test
    void noModelOrAModelWithoutLogitsIs409() throws Exception {
        manager.unload("stories260K.gguf");
        HttpResponse<String> r = web.post("v1/internal/perplexity", body(STORY, 64, 128, "windows", true, run));
        assertEquals(409, r.statusCode(), r.body());
        assertEquals("no_model_loaded", code(r));
        assertTrue(error(r).contains("logits"), error(r));
        // A named model that is not loaded is loaded with its settings and evaluated; a name that is no model is a 404.
        r = web.post("v1/internal/perplexity", "{\"model\":\"stories260K.gguf\",\"text\":\"hello, little one " + run
                + "\"}");
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(manager.loaded("stories260K.gguf").isPresent(), "left loaded");
        manager.unload("stories260K.gguf");
        r = web.post("v1/internal/perplexity", "{\"model\":\"nope.gguf\",\"text\":\"hello\"}");
        assertEquals(404, r.statusCode(), r.body());
        assertEquals("model_not_found", code(r));
        assertTrue(error(r).contains("nope.gguf"), error(r));

        // The test-only echo loader gives no logits: a 409 that says so.
        Files.createDirectories(models.resolve("echo-story"));
        Files.writeString(models.resolve("echo-story/echo-model.txt"), "the quick brown fox");
        Bundle echo = Framework.startEchoLoader(manager);
        try {
            manager.refresh();
            manager.load("echo-story", "itest-echo", Map.of());
            r = web.post("v1/internal/perplexity", body(STORY, 64, 128, "windows", true, run));
            assertEquals(409, r.statusCode(), r.body());
            assertEquals("logits_unavailable", code(r));
            assertTrue(error(r).contains("itest-echo"), error(r));
        } finally {
            echo.uninstall();
        }
    }

    @Test
    void withoutTheEvaluationBundleTheRoutesSayToInstallIt() throws Exception {
        Bundle evaluation = Framework.bundle("io.loadstone.evaluation");
        evaluation.stop();
        Framework.await("page API says unavailable", WAIT, () -> !overview().get("available").getAsBoolean());
        assertTrue(overview().get("message").getAsString().contains("io.loadstone.evaluation"));
        HttpResponse<String> r = web.post("v1/internal/perplexity", body(STORY, 64, 128, "windows", true, run));
        assertEquals(503, r.statusCode(), r.body());
        assertTrue(error(r).contains("install"), error(r));
        assertEquals(503, web.get("v1/internal/evaluations").statusCode());
        assertEquals(503, web.post("ui/api/evaluation", body(STORY, 64, 128, "windows", true, run)).statusCode());
        // Back without a restart of the UI.
        evaluation.start();
        Framework.await("page API available again", WAIT, () -> overview().get("available").getAsBoolean());
        assertEquals(200, web.get("v1/internal/evaluations").statusCode());
    }

    /** Listens to the page's event stream (see {@link WebServer#pageEvents}). */
    private void listen() throws Exception {
        events = web.pageEvents(received, WAIT);
    }
}
