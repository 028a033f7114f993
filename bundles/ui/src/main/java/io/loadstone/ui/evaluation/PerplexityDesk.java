package io.loadstone.ui.evaluation;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.evaluation.EvaluationProgress;
import io.loadstone.evaluation.EvaluationRequest;
import io.loadstone.evaluation.EvaluationResult;
import io.loadstone.evaluation.PerplexityEvaluator;
import io.loadstone.evaluation.PerplexityMethod;
import io.loadstone.ui.http.ApiException;
import io.loadstone.ui.web.PageEvents;

/**
 * The Evaluate tab backed by the evaluation bundle's {@link PerplexityEvaluator}. Only
 * {@link EvaluationServlet} makes one, and only once an evaluator is registered, so without the evaluation
 * bundle this class (the one place that links against that bundle's package) is never loaded. The running
 * job's progress goes to every open page as {@code evaluation} server-sent events; the synchronous API
 * route runs through the same single job slot, so a script's evaluation shows on the pages too and never
 * runs beside one started there.
 */
final class PerplexityDesk implements EvaluationDesk {

    private static final Logger LOG = System.getLogger(PerplexityDesk.class.getName());
    /** Progress events more often than this are not pushed: a tiny model finishes thousands of windows a second. */
    private static final long PUSH_EVERY_NANOS = 200_000_000L;

    private final PerplexityEvaluator evaluator;
    private final PageEvents pages;
    private final Supplier<ModelManager> manager;
    private final AtomicLong ids = new AtomicLong();
    /** The job that holds the slot, or null. */
    private final AtomicReference<Job> running = new AtomicReference<>();
    /** The latest job, running or ended, so a page opened later still sees how it ended. */
    private volatile Job latest;

    /**
     * One evaluation run as the page sees it: one model, or several in turn (text-generation-webui's model
     * multiselect). Written by its worker thread, read by requests. The top-level fields describe the model
     * being evaluated now (or the last one); {@code entries} holds each finished model's result or error.
     */
    private final class Job {
        final String id;
        final EvaluationInput input;
        /** The models in order; a null element is "the loaded model". */
        final List<String> names;
        final boolean several;
        final Instant started = Instant.now();
        final CompletableFuture<Void> ended = new CompletableFuture<>();
        final List<JsonObject> entries = new CopyOnWriteArrayList<>();
        /** What happened to models that failed ("Failed to load X: ... — moving on."). */
        final List<String> lines = new CopyOnWriteArrayList<>();
        volatile int index;
        volatile String model;
        volatile String loader;
        /** "loading" while the model is being loaded, "evaluating" after. */
        volatile String phase = "evaluating";
        volatile String state = "running";
        volatile int windowsDone;
        volatile int windowsTotal;
        volatile boolean cancelRequested;
        volatile Instant finished;
        volatile String message;
        volatile String error;
        volatile String fix;
        /** HTTP status and code the synchronous route answers a failure with. */
        volatile int status;
        volatile String code;
        volatile EvaluationResult result;
        volatile long lastPush;

        Job(String id, EvaluationInput input, Target first) {
            this.id = id;
            this.input = input;
            this.names = input.names();
            this.several = input.models() != null;
            this.model = first != null ? first.name : names.get(0);
            this.loader = first != null ? first.loader : null;
        }

        boolean progress(int done, int total) {
            phase = "evaluating";
            windowsDone = done;
            windowsTotal = total;
            long now = System.nanoTime();
            if (done == 0 || done >= total || now - lastPush >= PUSH_EVERY_NANOS) {
                lastPush = now;
                publish(this);
            }
            return !cancelRequested;
        }

        boolean loading(String name, String loaderId) {
            phase = "loading";
            loader = loaderId;
            publish(this);
            return !cancelRequested;
        }

        JsonObject json() {
            JsonObject o = new JsonObject();
            o.addProperty("id", id);
            o.addProperty("state", state);
            o.addProperty("model", model);
            o.addProperty("loader", loader);
            o.addProperty("phase", phase);
            JsonArray ms = new JsonArray();
            names.forEach(n -> ms.add(n == null ? JsonNull.INSTANCE : new JsonPrimitive(n)));
            o.add("models", ms);
            o.addProperty("several", several);
            o.addProperty("index", index + 1);
            o.addProperty("count", names.size());
            o.addProperty("source", input.source());
            o.add("dataset", input.dataset() == null ? JsonNull.INSTANCE : new JsonPrimitive(input.dataset()));
            o.addProperty("method", input.method());
            o.addProperty("stride", input.stride());
            o.addProperty("max_length", input.maxLength());
            o.addProperty("windowsDone", windowsDone);
            o.addProperty("windowsTotal", windowsTotal);
            boolean modelDone = state.equals("done") || entries.size() > index;
            double fraction = modelDone ? 1.0 : windowsTotal <= 0 ? 0.0
                    : Math.min(1.0, (double) windowsDone / windowsTotal);
            o.addProperty("fraction", fraction);
            o.addProperty("overall", state.equals("done") ? 1.0 : Math.min(1.0, (index + (modelDone ? 1.0
                    : fraction)) / names.size()));
            o.addProperty("started", started.toString());
            Instant end = finished;
            o.addProperty("seconds", Duration.between(started, end != null ? end : Instant.now()).toMillis() / 1000.0);
            if (end != null) {
                o.addProperty("finished", end.toString());
            }
            if (message != null) {
                o.addProperty("message", message);
            }
            if (error != null) {
                JsonObject e = new JsonObject();
                e.addProperty("message", error);
                e.addProperty("fix", fix == null ? "" : fix);
                o.add("error", e);
            }
            EvaluationResult r = result;
            if (r != null) {
                o.add("result", resultJson(r));
            }
            JsonArray es = new JsonArray();
            entries.forEach(es::add);
            o.add("entries", es);
            JsonArray ls = new JsonArray();
            lines.forEach(ls::add);
            o.add("lines", ls);
            return o;
        }
    }

    /** A model an evaluation will run on: its name, its loader (known or to be loaded with), whether loaded. */
    private record Target(String name, String loader, boolean loaded) {
    }

    /**
     * @param evaluator the {@link PerplexityEvaluator} service, typed {@code Object} so that the caller need not
     *                  link against the evaluation bundle
     */
    PerplexityDesk(Object evaluator, PageEvents pages, Supplier<ModelManager> manager) {
        this.evaluator = (PerplexityEvaluator) evaluator;
        this.pages = pages;
        this.manager = manager;
    }

    @Override
    public JsonObject overview() {
        JsonObject o = new JsonObject();
        o.addProperty("available", true);
        o.addProperty("datasetsDir", evaluator.datasetsDir().toString());
        o.addProperty("logFile", evaluator.logFile().toString());
        JsonArray ds = new JsonArray();
        datasets().forEach(ds::add);
        o.add("datasets", ds);
        o.add("history", history());
        Job j = latest;
        o.add("job", j == null ? JsonNull.INSTANCE : j.json());
        return o;
    }

    @Override
    public String logFile() {
        return evaluator.logFile().toString();
    }

    @Override
    public List<String> datasets() {
        return evaluator.datasets();
    }

    @Override
    public JsonObject start(EvaluationInput input) throws ApiException {
        return begin(input).json();
    }

    @Override
    public JsonObject run(EvaluationInput input) throws ApiException, InterruptedException {
        Job j = begin(input);
        try {
            j.ended.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
        if (j.several) {
            JsonObject o = new JsonObject();
            o.addProperty("object", "list");
            JsonArray es = new JsonArray();
            j.entries.forEach(es::add);
            o.add("results", es);
            o.addProperty("cancelled", j.state.equals("cancelled"));
            o.addProperty("message", j.message);
            return o;
        }
        switch (j.state) {
            case "done" -> {
                return resultJson(j.result);
            }
            case "cancelled" -> throw new ApiException(409, "invalid_request_error", "evaluation_cancelled", null,
                    j.message);
            default -> throw new ApiException(j.status, j.status >= 500 ? "server_error" : "invalid_request_error",
                    j.code, null, j.fix == null || j.fix.isEmpty() ? j.error : j.error + " " + j.fix);
        }
    }

    @Override
    public JsonObject cancel() throws ApiException {
        Job j = running.get();
        if (j == null) {
            Job last = latest;
            JsonObject o = last == null ? new JsonObject() : last.json();
            o.addProperty("message", "No evaluation is running" + (last == null ? "." : "; the last one has "
                    + (last.state.equals("done") ? "finished" : last.state) + "."));
            return o;
        }
        j.cancelRequested = true;
        JsonObject o = j.json();
        o.addProperty("message", "Cancelling the evaluation of " + j.model + " on " + j.input.source()
                + (j.phase.equals("loading") ? " once it has loaded" : " after the current window")
                + (j.names.size() > j.index + 1 ? "; the models after it are not evaluated." : "."));
        return o;
    }

    @Override
    public JsonArray history() {
        List<EvaluationResult> all = new ArrayList<>(evaluator.history());
        // Newest first; the log is appended to, so its order is oldest first.
        all.sort(Comparator.comparing(EvaluationResult::date, Comparator.nullsLast(Comparator.reverseOrder())));
        JsonArray a = new JsonArray();
        all.forEach(r -> a.add(resultJson(r)));
        return a;
    }

    @Override
    public void close() {
        Job j = running.get();
        if (j != null) {
            j.cancelRequested = true;
        }
    }

    /** Checks the model, takes the slot and starts the worker. */
    private Job begin(EvaluationInput input) throws ApiException {
        // Several models: each is checked when its turn comes, so one bad name fails only its own entry.
        Target first = input.models() == null ? resolve(input.model()) : null;
        Job j = new Job(Long.toString(ids.incrementAndGet()), input, first);
        if (!running.compareAndSet(null, j)) {
            Job busy = running.get();
            throw new ApiException(409, "invalid_request_error", "evaluation_running", null,
                    "An evaluation is already running" + (busy == null ? "" : " (" + busy.model + " on "
                            + busy.input.source() + ", " + busy.windowsDone + "/" + busy.windowsTotal + " windows)")
                            + ". Wait for it to finish or cancel it (POST /ui/api/evaluation/cancel), then try again.");
        }
        latest = j;
        publish(j);
        Thread t = new Thread(() -> work(j, first), "loadstone-evaluation-" + j.id);
        t.setDaemon(true);
        t.start();
        return j;
    }

    private EvaluationRequest request(EvaluationInput input, String model) {
        return new EvaluationRequest(model, input.dataset(), input.text(), input.stride(), input.maxLength(),
                PerplexityMethod.valueOf(input.method().toUpperCase(Locale.ROOT)), input.force(), input.comment());
    }

    private void work(Job j, Target first) {
        try {
            int failed = 0;
            for (int k = 0; k < j.names.size() && !j.cancelRequested; k++) {
                if (!evaluateOne(j, k, k == 0 ? first : null)) {
                    failed++;
                }
            }
            boolean allEnded = j.entries.size() == j.names.size();
            if (j.cancelRequested && !allEnded) {
                cancelled(j);
            } else if (j.several) {
                int ok = j.entries.size() - failed;
                // The message before the state: readers poll the state and then read the message.
                j.message = "Evaluated " + ok + " of " + j.names.size() + " models on " + j.input.source()
                        + (failed == 0 ? "." : "; " + failed + " failed: " + String.join(" ", j.lines));
                j.state = ok == 0 ? "failed" : "done";
            }
        } finally {
            j.finished = Instant.now();
            // Free the slot before telling the pages, so one that reacts at once can start the next job.
            running.compareAndSet(j, null);
            publish(j);
            j.ended.complete(null);
        }
    }

    /** Evaluates the k-th model of the job; false when it failed (recorded in the job's entries and lines). */
    private boolean evaluateOne(Job j, int k, Target known) {
        String name = j.names.get(k);
        j.index = k;
        j.model = known != null ? known.name : name;
        j.loader = known != null ? known.loader : null;
        j.phase = "evaluating";
        j.windowsDone = 0;
        j.windowsTotal = 0;
        j.result = null;
        try {
            if (known == null) {
                Target t = resolve(name);
                j.model = t.name;
                j.loader = t.loader;
            }
            publish(j);
            EvaluationResult r = evaluator.evaluate(request(j.input, j.model), new EvaluationProgress() {
                @Override
                public boolean progress(int done, int total) {
                    return j.progress(done, total);
                }

                @Override
                public boolean loading(String model, String loaderId) {
                    return j.loading(model, loaderId);
                }
            });
            j.result = r;
            j.loader = r.loader();
            j.message = r.fromLog()
                    ? String.format(Locale.ROOT, "From the log (evaluated %s): perplexity %.4f for %s on %s. Tick"
                            + " 'Evaluate again' (force) to run it anew.", r.date(), r.perplexity(), r.model(),
                            r.dataset())
                    : String.format(Locale.ROOT, "Perplexity %.4f for %s on %s: %d tokens, %d windows, %.1f s.",
                            r.perplexity(), r.model(), r.dataset(), r.tokens(), r.windows(), r.seconds());
            if (!r.fromLog()) {
                j.windowsDone = Math.max(j.windowsDone, r.windows());
                j.windowsTotal = Math.max(j.windowsTotal, r.windows());
            }
            j.entries.add(resultJson(r));
            if (!j.several) {
                j.state = "done"; // last: readers poll the state, then read the rest
            }
            return true;
        } catch (ApiException e) {
            fail(j, e.getMessage(), "", e.status(), e.code(), false);
            return false;
        } catch (ModelLoadException e) {
            if (j.cancelRequested) {
                return true; // reported as cancelled by the caller
            }
            boolean loading = j.phase.equals("loading");
            ModelManager m = manager.get();
            boolean gone = !loading && (m == null || m.loaded(j.model).isEmpty());
            fail(j, e.getMessage(), e.fix(), loading ? 500 : gone ? 409 : 400, loading ? "load_failed" : gone
                    ? "model_not_loaded" : "evaluation_failed", loading);
            return false;
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, "Evaluation of " + j.model + " on " + j.input.source() + " failed", e);
            fail(j, "The evaluation failed: " + e + ".", "The server keeps running; its log has the details.", 500,
                    "internal_error", false);
            return false;
        }
    }

    /**
     * Records a model's failure: for one model the job fails with it; for several, an entry and a line
     * ("Failed to load X: why — moving on."), and the next model follows, as text-generation-webui does.
     */
    private void fail(Job j, String error, String fix, int status, String code, boolean loading) {
        j.error = error;
        j.fix = fix;
        j.status = status;
        j.code = code;
        String why = fix == null || fix.isEmpty() ? error : error + " " + fix;
        j.message = why;
        JsonObject e = new JsonObject();
        e.addProperty("message", error);
        e.addProperty("fix", fix == null ? "" : fix);
        e.addProperty("code", code);
        e.addProperty("status", status);
        JsonObject entry = new JsonObject();
        entry.addProperty("model", j.model);
        entry.add("error", e);
        j.entries.add(entry);
        boolean more = j.index + 1 < j.names.size();
        j.lines.add((loading ? "Failed to load " + j.model + ": " : "Failed to evaluate " + j.model + ": ") + why
                + (more ? " — moving on." : ""));
        if (!j.several) {
            j.state = "failed";
        }
        publish(j);
    }

    private static void cancelled(Job j) {
        // The message before the state: readers poll the state and then read the message.
        j.message = "Cancelled the evaluation of " + j.model + " on " + j.input.source() + (j.phase.equals("loading")
                ? " after loading it" : " after " + j.windowsDone + " of " + j.windowsTotal + " windows")
                + (j.names.size() > 1 ? " (model " + (j.index + 1) + " of " + j.names.size() + "; "
                        + j.entries.size() + " finished before)" : "") + ". Nothing was logged for it.";
        j.state = "cancelled";
    }

    private void publish(Job j) {
        pages.publish("evaluation", j.json().toString());
    }

    /**
     * The model a request means, with a 409 when none is loaded (for no name) or its loader gives no logits
     * (perplexity needs the model's next-token probabilities, which only some loaders expose), and a 404 for a
     * name that is no model. A model that is not loaded is fine: the evaluator loads it with its settings.
     */
    private Target resolve(String name) throws ApiException {
        ModelManager m = manager.get();
        if (m == null) {
            throw new ApiException(503, "server_error", "runtime_unavailable", null,
                    "The Loadstone runtime (io.loadstone.core) is not running; start it on the Plugins tab.");
        }
        List<LoadedModelState> loaded = m.loaded();
        Optional<LoadedModelState> hit;
        if (name == null || name.isBlank()) {
            hit = loaded.stream().max(Comparator.comparing(LoadedModelState::loadedAt));
            if (hit.isEmpty()) {
                throw new ApiException(409, "invalid_request_error", "no_model_loaded", "model",
                        "No model is loaded. Load a model whose loader exposes logits (llama.cpp, Transformers) on"
                                + " the Model tab or with POST /v1/internal/model/load, then evaluate it, or name"
                                + " the models to evaluate ('models').");
            }
        } else {
            hit = loaded.stream().filter(s -> s.name().equals(name)).findFirst();
        }
        String loaderId;
        String what;
        if (hit.isPresent()) {
            loaderId = hit.get().info().loaderId();
            what = "The loaded model " + hit.get().name() + " runs on the " + loaderId + " loader";
        } else {
            if (m.models().stream().noneMatch(e -> e.name().equals(name))) {
                throw ApiException.notFound("model_not_found", "There is no model named '" + name + "' in "
                        + m.modelsDir() + ". Models: " + String.join(", ", m.models().stream().map(e -> e.name())
                                .toList()) + ".");
            }
            try {
                loaderId = m.settings(name).loader();
            } catch (ModelLoadException e) {
                throw ApiException.notFound("model_not_found", e.userMessage());
            }
            if (loaderId == null) {
                throw new ApiException(409, "invalid_request_error", "no_loader", "model", "No installed loader can"
                        + " load '" + name + "'. Install a loader bundle that accepts it on the Plugins tab.");
            }
            what = "'" + name + "' would be loaded with the " + loaderId + " loader (its settings)";
        }
        String lid = loaderId;
        boolean logits = m.loaders().stream().filter(l -> l.id().equals(lid)).findFirst()
                .map(LoaderInfo::capabilities).map(c -> c.logits()).orElse(false);
        if (!logits) {
            throw new ApiException(409, "invalid_request_error", "logits_unavailable", "model", what
                    + ", which exposes no logits, so its perplexity cannot be measured. Use a loader that does"
                    + " (llama.cpp, Transformers).");
        }
        return new Target(hit.map(LoadedModelState::name).orElse(name), loaderId, hit.isPresent());
    }

    /** A result as the API returns it: the record's fields in snake_case, the method as the API spells it. */
    static JsonObject resultJson(EvaluationResult r) {
        JsonObject o = new JsonObject();
        o.addProperty("model", r.model());
        o.addProperty("loader", r.loader());
        o.addProperty("options", r.options());
        o.addProperty("dataset", r.dataset());
        o.addProperty("stride", r.stride());
        o.addProperty("max_length", r.maxLength());
        o.addProperty("method", r.method() == null ? null : r.method().name().toLowerCase(Locale.ROOT));
        // JSON has no NaN or infinity; a diverging model is reported as null rather than breaking the answer.
        if (Double.isFinite(r.perplexity())) {
            o.addProperty("perplexity", r.perplexity());
        } else {
            o.add("perplexity", JsonNull.INSTANCE);
        }
        o.addProperty("tokens", r.tokens());
        o.addProperty("windows", r.windows());
        o.addProperty("scored_tokens", r.scoredTokens());
        o.addProperty("seconds", Double.isFinite(r.seconds()) ? r.seconds() : 0);
        o.addProperty("date", r.date() == null ? null : r.date().toString());
        o.addProperty("comment", r.comment());
        o.addProperty("from_log", r.fromLog());
        return o;
    }
}
