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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelManager;
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

    /** One evaluation as the page sees it; written by its worker thread, read by requests. */
    private final class Job {
        final String id;
        final EvaluationInput input;
        final String model;
        final String loader;
        final Instant started = Instant.now();
        final CompletableFuture<Void> ended = new CompletableFuture<>();
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

        Job(String id, EvaluationInput input, String model, String loader) {
            this.id = id;
            this.input = input;
            this.model = model;
            this.loader = loader;
        }

        boolean progress(int done, int total) {
            windowsDone = done;
            windowsTotal = total;
            long now = System.nanoTime();
            if (done == 0 || done >= total || now - lastPush >= PUSH_EVERY_NANOS) {
                lastPush = now;
                publish(this);
            }
            return !cancelRequested;
        }

        JsonObject json() {
            JsonObject o = new JsonObject();
            o.addProperty("id", id);
            o.addProperty("state", state);
            o.addProperty("model", model);
            o.addProperty("loader", loader);
            o.addProperty("source", input.source());
            o.add("dataset", input.dataset() == null ? JsonNull.INSTANCE : new com.google.gson.JsonPrimitive(
                    input.dataset()));
            o.addProperty("method", input.method());
            o.addProperty("stride", input.stride());
            o.addProperty("max_length", input.maxLength());
            o.addProperty("windowsDone", windowsDone);
            o.addProperty("windowsTotal", windowsTotal);
            double fraction = state.equals("done") ? 1.0 : windowsTotal <= 0 ? 0.0
                    : Math.min(1.0, (double) windowsDone / windowsTotal);
            o.addProperty("fraction", fraction);
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
            return o;
        }
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
                + " after the current window.");
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
        LoadedModelState model = resolve(input.model());
        Job j = new Job(Long.toString(ids.incrementAndGet()), input, model.name(), model.info().loaderId());
        if (!running.compareAndSet(null, j)) {
            Job busy = running.get();
            throw new ApiException(409, "invalid_request_error", "evaluation_running", null,
                    "An evaluation is already running" + (busy == null ? "" : " (" + busy.model + " on "
                            + busy.input.source() + ", " + busy.windowsDone + "/" + busy.windowsTotal + " windows)")
                            + ". Wait for it to finish or cancel it (POST /ui/api/evaluation/cancel), then try again.");
        }
        latest = j;
        EvaluationRequest request = new EvaluationRequest(model.name(), input.dataset(), input.text(), input.stride(),
                input.maxLength(), PerplexityMethod.valueOf(input.method().toUpperCase(Locale.ROOT)), input.force(),
                input.comment());
        publish(j);
        Thread t = new Thread(() -> work(j, request), "loadstone-evaluation-" + j.id);
        t.setDaemon(true);
        t.start();
        return j;
    }

    private void work(Job j, EvaluationRequest request) {
        try {
            EvaluationResult r = evaluator.evaluate(request, j::progress);
            j.result = r;
            j.state = "done";
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
        } catch (ModelLoadException e) {
            if (j.cancelRequested) {
                cancelled(j);
            } else {
                j.state = "failed";
                j.error = e.getMessage();
                j.fix = e.fix();
                // The model went away while it ran (unloaded, its loader removed): a conflict, not bad input.
                boolean gone = manager.get() == null || manager.get().loaded(j.model).isEmpty();
                j.status = gone ? 409 : 400;
                j.code = gone ? "model_not_loaded" : "evaluation_failed";
                j.message = e.userMessage();
            }
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, "Evaluation of " + j.model + " on " + j.input.source() + " failed", e);
            j.state = "failed";
            j.error = "The evaluation failed: " + e + ".";
            j.fix = "The server keeps running; its log has the details.";
            j.status = 500;
            j.code = "internal_error";
            j.message = j.error + " " + j.fix;
        } finally {
            j.finished = Instant.now();
            // Free the slot before telling the pages, so one that reacts at once can start the next job.
            running.compareAndSet(j, null);
            publish(j);
            j.ended.complete(null);
        }
    }

    private static void cancelled(Job j) {
        j.state = "cancelled";
        j.message = "Cancelled the evaluation of " + j.model + " on " + j.input.source() + " after "
                + j.windowsDone + " of " + j.windowsTotal + " windows. Nothing was logged.";
    }

    private void publish(Job j) {
        pages.publish("evaluation", j.json().toString());
    }

    /**
     * The loaded model a request means, with a 409 when there is none or its loader gives no logits:
     * perplexity needs the model's next-token probabilities, which only some loaders expose.
     */
    private LoadedModelState resolve(String name) throws ApiException {
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
                                + " the Model tab or with POST /v1/internal/model/load, then evaluate it.");
            }
        } else {
            hit = loaded.stream().filter(s -> s.name().equals(name)).findFirst();
            if (hit.isEmpty()) {
                throw new ApiException(409, "invalid_request_error", "model_not_loaded", "model", "The model '"
                        + name + "' is not loaded" + (loaded.isEmpty() ? "" : " (loaded: " + String.join(", ",
                                loaded.stream().map(LoadedModelState::name).toList()) + ")")
                        + ". Load it first: POST /v1/internal/model/load {\"model_name\": \"" + name
                        + "\"}, or the web UI's Model tab.");
            }
        }
        LoadedModelState s = hit.get();
        String loaderId = s.info().loaderId();
        boolean logits = m.loaders().stream().filter(l -> l.id().equals(loaderId)).findFirst()
                .map(LoaderInfo::capabilities).map(c -> c.logits()).orElse(false);
        if (!logits) {
            throw new ApiException(409, "invalid_request_error", "logits_unavailable", "model", "The loaded model "
                    + s.name() + " runs on the " + loaderId + " loader, which exposes no logits, so its perplexity"
                    + " cannot be measured. Load it with a loader that does (llama.cpp, Transformers).");
        }
        return s;
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
