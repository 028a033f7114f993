package io.loadstone.ui.evaluation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.ModelInfo;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelEntry;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.api.runtime.ModelSettings;
import io.loadstone.evaluation.EvaluationProgress;
import io.loadstone.evaluation.EvaluationRequest;
import io.loadstone.evaluation.EvaluationResult;
import io.loadstone.evaluation.PerplexityEvaluator;
import io.loadstone.evaluation.PerplexityMethod;
import io.loadstone.ui.generation.Params;
import io.loadstone.ui.http.ApiException;

/** The job slot, cancel, events and error mapping, against a scripted evaluator and runtime. */
class PerplexityDeskTest {

    private static final EvaluationInput TEXT = new EvaluationInput(null, null, "Once upon a time", 64, 128, "windows",
            false, "c");

    /** An evaluator that runs {@code windows} windows, each waiting for {@code step} when set. */
    private static final class Scripted implements PerplexityEvaluator {
        volatile int windows = 5;
        volatile CountDownLatch step;
        volatile ModelLoadException failure;
        volatile Runnable beforeFailure;
        volatile double perplexity = 3.5;
        final List<EvaluationRequest> requests = new CopyOnWriteArrayList<>();
        final List<EvaluationResult> log = new CopyOnWriteArrayList<>();
        /** The names loaded now (null: not consulted), and what loading one does. */
        final java.util.concurrent.atomic.AtomicReference<Set<String>> loadedNames =
                new java.util.concurrent.atomic.AtomicReference<>();
        volatile java.util.function.Consumer<String> onLoad = n -> { };

        @Override
        public Path datasetsDir() {
            return Path.of("/home/training/datasets");
        }

        @Override
        public Path logFile() {
            return Path.of("/home/logs/evaluations.csv");
        }

        @Override
        public List<String> datasets() {
            return List.of("a.txt");
        }

        @Override
        public EvaluationResult evaluate(EvaluationRequest r, EvaluationProgress progress) throws ModelLoadException {
            requests.add(r);
            if (r.model() != null && loadedNames.get() != null && !loadedNames.get().contains(r.model())) {
                // Not loaded: the real evaluator loads it with its settings first.
                if (!progress.loading(r.model(), "llama.cpp")) {
                    throw new ModelLoadException("The evaluation was cancelled before loading '" + r.model() + "'.",
                            "");
                }
                if (r.model().startsWith("broken")) {
                    throw new ModelLoadException("'" + r.model() + "' is not a valid GGUF file.", "Download it again.");
                }
                onLoad.accept(r.model());
            }
            if (failure != null) {
                if (beforeFailure != null) {
                    beforeFailure.run();
                }
                throw failure;
            }
            progress.progress(0, windows);
            for (int i = 1; i <= windows; i++) {
                CountDownLatch s = step;
                if (s != null) {
                    try {
                        s.await(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                if (!progress.progress(i, windows)) {
                    throw new ModelLoadException("The evaluation was cancelled after " + i + " of " + windows
                            + " windows.", "");
                }
            }
            EvaluationResult res = new EvaluationResult(r.model(), "llama.cpp", "n_ctx=256", "pasted:0123456789ab",
                    r.stride(), r.maxLength(), r.method(), perplexity, 300, windows, 290, 0.5, Instant.now(),
                    r.comment(), false);
            log.add(res);
            return res;
        }

        @Override
        public List<EvaluationResult> history() {
            return new ArrayList<>(log);
        }
    }

    /** The models folder: one loaded model, two that load, one that fails to load, one on a loader without logits. */
    private static final List<String> MODELS = List.of("stories260K.gguf", "other.gguf", "third.gguf", "broken.gguf",
            "echo-story");

    private final Scripted evaluator = new Scripted();
    private final List<String> events = new CopyOnWriteArrayList<>();
    private volatile List<LoadedModelState> loaded = List.of(state("stories260K.gguf", "llama.cpp"));
    private final ModelManager manager = (ModelManager) Proxy.newProxyInstance(getClass().getClassLoader(),
            new Class<?>[] {ModelManager.class}, (proxy, method, args) -> switch (method.getName()) {
                case "loaded" -> args == null ? loaded : loaded.stream().filter(s -> s.name().equals(args[0]))
                        .findFirst();
                case "loaders" -> List.of(loader("llama.cpp", true), loader("itest-echo", false));
                case "modelsDir" -> Path.of("/home/models");
                case "models" -> MODELS.stream().map(n -> new ModelEntry(n, Path.of("/home/models", n), 1, List.of(),
                        "")).toList();
                case "settings" -> new ModelSettings((String) args[0], ((String) args[0]).startsWith("echo")
                        ? "itest-echo" : "llama.cpp", Map.of(), null, List.of());
                default -> throw new UnsupportedOperationException(method.getName());
            });
    private final PerplexityDesk desk = new PerplexityDesk(evaluator, (event, data) -> events.add(event + " " + data),
            () -> manager);

    private static LoadedModelState state(String name, String loader) {
        return new LoadedModelState(name, new ModelInfo(loader, "test", 256, 256, 512, "", List.of(), Map.of()),
                Instant.now(), Instant.now(), 1);
    }

    private static LoaderInfo loader(String id, boolean logits) {
        return new LoaderInfo(id, id, "b", "1", new Capabilities(Capabilities.LoraSupport.NONE, false, logits,
                Set.of()), List.of());
    }

    private JsonObject job() {
        return desk.overview().getAsJsonObject("job");
    }

    private void awaitState(String state) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!job().get("state").getAsString().equals(state)) {
            assertTrue(System.nanoTime() < end, "job never reached " + state + ": " + job());
            Thread.sleep(5);
        }
    }

    @Test
    void runReturnsTheResultAndTheRequestNamesTheResolvedModel() throws Exception {
        JsonObject r = desk.run(TEXT);
        assertEquals(3.5, r.get("perplexity").getAsDouble());
        assertEquals("windows", r.get("method").getAsString());
        assertEquals(128, r.get("max_length").getAsInt());
        assertEquals(290, r.get("scored_tokens").getAsInt());
        assertFalse(r.get("from_log").getAsBoolean());
        EvaluationRequest sent = evaluator.requests.get(0);
        assertEquals("stories260K.gguf", sent.model());
        assertEquals(PerplexityMethod.WINDOWS, sent.method());
        assertEquals("Once upon a time", sent.text());
        JsonObject j = job();
        assertEquals("done", j.get("state").getAsString());
        assertEquals(1.0, j.get("fraction").getAsDouble());
        assertTrue(j.get("message").getAsString().startsWith("Perplexity 3.5000 for stories260K.gguf"), j.toString());
        // The page saw it start and end.
        assertTrue(events.stream().anyMatch(e -> e.startsWith("evaluation ") && e.contains("\"running\"")), "" + events);
        assertTrue(events.getLast().contains("\"done\""), events.getLast());
    }

    @Test
    void oneJobAtATimeAndCancelStopsAtTheNextWindow() throws Exception {
        evaluator.windows = 1000;
        evaluator.step = new CountDownLatch(1);
        JsonObject started = desk.start(TEXT);
        assertEquals("running", started.get("state").getAsString());
        ApiException busy = assertThrows(ApiException.class, () -> desk.start(TEXT));
        assertEquals(409, busy.status());
        assertEquals("evaluation_running", busy.code());
        assertTrue(busy.getMessage().contains("stories260K.gguf"), busy.getMessage());
        assertEquals(409, assertThrows(ApiException.class, () -> desk.run(TEXT)).status());

        // Cancel once the job's own request is in the evaluator (its thread may not have got there yet).
        while (evaluator.requests.isEmpty()) {
            Thread.sleep(2);
        }
        desk.cancel();
        evaluator.step.countDown();
        awaitState("cancelled");
        JsonObject j = job();
        assertTrue(j.get("message").getAsString().startsWith("Cancelled the evaluation of stories260K.gguf"),
                j.toString());
        assertTrue(j.get("windowsDone").getAsInt() < 1000, j.toString());
        assertEquals(1, evaluator.requests.size(), "the busy requests never reached the evaluator");
        // The slot is free again.
        evaluator.windows = 2;
        evaluator.step = null;
        assertEquals(3.5, desk.run(TEXT).get("perplexity").getAsDouble());
    }

    @Test
    void progressEventsAreThrottledButTheLastOneAlwaysGoesOut() throws Exception {
        evaluator.windows = 100_000;
        desk.run(TEXT);
        long progress = events.stream().filter(e -> e.contains("\"running\"")).count();
        assertTrue(progress < 1000, progress + " progress events for 100000 windows");
        JsonObject last = JsonParser.parseString(events.getLast().substring("evaluation ".length())).getAsJsonObject();
        assertEquals(100_000, last.get("windowsDone").getAsInt());
    }

    @Test
    void aFailureCarriesTheMessageAndTheFix() throws Exception {
        evaluator.failure = new ModelLoadException("max_length 512 is more than the context length 256.",
                "Use max_length 256 or less.");
        ApiException e = assertThrows(ApiException.class, () -> desk.run(TEXT));
        assertEquals(400, e.status());
        assertEquals("evaluation_failed", e.code());
        assertEquals("max_length 512 is more than the context length 256. Use max_length 256 or less.", e.getMessage());
        JsonObject err = job().getAsJsonObject("error");
        assertEquals("Use max_length 256 or less.", err.get("fix").getAsString());
        assertEquals("failed", job().get("state").getAsString());
    }

    @Test
    void theModelUnloadedMeanwhileIsAConflictAndNoModelAtAllToo() throws Exception {
        // Unloaded between the desk's check and the evaluator's failure.
        evaluator.beforeFailure = () -> loaded = List.of();
        evaluator.failure = new ModelLoadException("stories260K.gguf was unloaded during the evaluation.", "");
        ApiException e = assertThrows(ApiException.class, () -> desk.run(TEXT));
        assertEquals(409, e.status());
        assertEquals("model_not_loaded", e.code());
        ApiException none = assertThrows(ApiException.class, () -> desk.run(TEXT));
        assertEquals(409, none.status());
        assertEquals("no_model_loaded", none.code());
    }

    @Test
    void aLoaderWithoutLogitsIsA409NamingIt() {
        loaded = List.of(state("echo-story", "itest-echo"));
        ApiException e = assertThrows(ApiException.class, () -> desk.start(TEXT));
        assertEquals(409, e.status());
        assertEquals("logits_unavailable", e.code());
        assertTrue(e.getMessage().contains("itest-echo"), e.getMessage());
        ApiException other = assertThrows(ApiException.class, () -> desk.start(new EvaluationInput("nope.gguf", null,
                "x", 1, 0, "windows", false, "")));
        assertEquals(404, other.status());
        assertEquals("model_not_found", other.code());
        assertTrue(other.getMessage().startsWith("There is no model named 'nope.gguf' in /home/models. Models: "
                + "stories260K.gguf, other.gguf"), other.getMessage());
        // Not loaded, and the loader its settings name gives no logits: refused before anything is loaded.
        loaded = List.of();
        ApiException echo = assertThrows(ApiException.class, () -> desk.start(new EvaluationInput("echo-story", null,
                "x", 1, 0, "windows", false, "")));
        assertEquals("logits_unavailable", echo.code());
        assertTrue(echo.getMessage().contains("'echo-story' would be loaded with the itest-echo loader"),
                echo.getMessage());
        assertTrue(evaluator.requests.isEmpty());
    }

    @Test
    void aDivergingPerplexityIsNullNotABrokenAnswer() throws Exception {
        evaluator.perplexity = Double.POSITIVE_INFINITY;
        JsonObject r = desk.run(TEXT);
        assertTrue(r.get("perplexity").isJsonNull(), r.toString());
        assertEquals(1, desk.history().size());
    }

    @Test
    void historyIsNewestFirst() throws Exception {
        desk.run(TEXT);
        Thread.sleep(5);
        desk.run(new EvaluationInput(null, null, "x y", 64, 128, "chunks", true, "second"));
        assertEquals("second", desk.history().get(0).getAsJsonObject().get("comment").getAsString());
        assertEquals("chunks", desk.history().get(0).getAsJsonObject().get("method").getAsString());
    }

    private static EvaluationInput several(String... models) {
        return new EvaluationInput(null, null, "Once upon a time", 64, 128, "windows", false, "", List.of(models));
    }

    @Test
    void aNamedModelThatIsNotLoadedIsEvaluatedWithALoadingPhase() throws Exception {
        evaluator.loadedNames.set(new java.util.HashSet<>(Set.of("stories260K.gguf")));
        JsonObject r = desk.run(new EvaluationInput("other.gguf", null, "x", 64, 128, "windows", false, ""));
        assertEquals("other.gguf", r.get("model").getAsString());
        assertTrue(events.stream().anyMatch(e -> e.contains("\"phase\":\"loading\"") && e.contains("other.gguf")),
                "" + events);
        evaluator.loadedNames.set(new java.util.HashSet<>(Set.of("stories260K.gguf")));
        ApiException e = assertThrows(ApiException.class, () -> desk.run(new EvaluationInput("broken.gguf", null, "x",
                64, 128, "windows", false, "")));
        assertEquals(500, e.status());
        assertEquals("load_failed", e.code());
        assertEquals("'broken.gguf' is not a valid GGUF file. Download it again.", e.getMessage());
    }

    @Test
    void severalModelsRunInTurnAndAFailureIsReportedAndPassedOver() throws Exception {
        evaluator.loadedNames.set(new java.util.HashSet<>(Set.of("stories260K.gguf")));
        evaluator.onLoad = n -> evaluator.loadedNames.get().add(n);
        JsonObject r = desk.run(several("stories260K.gguf", "nope.gguf", "broken.gguf", "other.gguf", "echo-story"));
        assertEquals("list", r.get("object").getAsString());
        assertFalse(r.get("cancelled").getAsBoolean());
        var results = r.getAsJsonArray("results");
        assertEquals(5, results.size(), r.toString());
        assertEquals(3.5, results.get(0).getAsJsonObject().get("perplexity").getAsDouble());
        assertEquals("model_not_found", results.get(1).getAsJsonObject().getAsJsonObject("error").get("code")
                .getAsString());
        JsonObject broken = results.get(2).getAsJsonObject();
        assertEquals("broken.gguf", broken.get("model").getAsString());
        assertEquals("load_failed", broken.getAsJsonObject("error").get("code").getAsString());
        assertEquals("other.gguf", results.get(3).getAsJsonObject().get("model").getAsString());
        assertEquals("logits_unavailable", results.get(4).getAsJsonObject().getAsJsonObject("error").get("code")
                .getAsString());
        assertEquals(List.of("stories260K.gguf", "broken.gguf", "other.gguf"), evaluator.requests.stream()
                .map(EvaluationRequest::model).toList(), "the names that are no model, or have no logits, never reach it");
        JsonObject j = job();
        assertEquals("done", j.get("state").getAsString());
        var lines = j.getAsJsonArray("lines");
        assertEquals(3, lines.size(), j.toString());
        assertEquals("Failed to load broken.gguf: 'broken.gguf' is not a valid GGUF file. Download it again."
                + " — moving on.", lines.get(1).getAsString());
        assertTrue(j.get("message").getAsString().startsWith("Evaluated 2 of 5 models"), j.toString());
        // Pages saw "model 4 of 5" loading, and each model's result as it finished.
        assertTrue(events.stream().anyMatch(e -> e.contains("\"phase\":\"loading\"") && e.contains("\"index\":4")
                && e.contains("\"count\":5")), "" + events);
        assertTrue(events.stream().anyMatch(e -> e.contains("\"running\"") && e.contains("\"index\":2")
                && e.contains("\"perplexity\":3.5")), "the first result is out while the run goes on");
    }

    @Test
    void cancelStopsTheWholeRun() throws Exception {
        evaluator.windows = 1000;
        evaluator.step = new CountDownLatch(1);
        desk.start(several("stories260K.gguf", "other.gguf"));
        while (evaluator.requests.isEmpty()) {
            Thread.sleep(2);
        }
        desk.cancel();
        evaluator.step.countDown();
        awaitState("cancelled");
        assertEquals(1, evaluator.requests.size(), "the second model was not started");
        assertTrue(job().get("message").getAsString().contains("(model 1 of 2; 0 finished before)"), job().toString());
    }

    @Test
    void theApiTakesAListOfModels() throws Exception {
        Params p = new Params(JsonParser.parseString("{\"models\": [\"a.gguf\", \" \", \"b\"], \"text\": \"x\"}")
                .getAsJsonObject());
        assertEquals(List.of("a.gguf", "b"), EvaluationServlet.input(p, List.of()).models());
        assertEquals("ambiguous_input", assertThrows(ApiException.class, () -> EvaluationServlet.input(new Params(
                JsonParser.parseString("{\"models\": [\"a\"], \"model\": \"b\", \"text\": \"x\"}")
                        .getAsJsonObject()), List.of())).code());
        assertEquals("missing_parameter", assertThrows(ApiException.class, () -> EvaluationServlet.input(new Params(
                JsonParser.parseString("{\"models\": [], \"text\": \"x\"}").getAsJsonObject()), List.of()))
                .code());
        assertEquals("invalid_type", assertThrows(ApiException.class, () -> EvaluationServlet.input(new Params(
                JsonParser.parseString("{\"models\": [1], \"text\": \"x\"}").getAsJsonObject()), List.of()))
                .code());
    }
}
