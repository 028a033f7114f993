package io.loadstone.ui.evaluation;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.Locale;

import org.osgi.service.component.ComponentServiceObjects;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletName;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletPattern;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;

import io.loadstone.api.runtime.ModelManager;
import io.loadstone.ui.generation.Params;
import io.loadstone.ui.http.ApiException;
import io.loadstone.ui.http.HttpIo;
import io.loadstone.ui.web.PageEvents;
import jakarta.servlet.Servlet;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

/**
 * Perplexity evaluation (text-generation-webui's Training → "Perplexity evaluation") over HTTP:
 * <ul>
 * <li>{@code GET /ui/api/evaluation}: available?, datasets folder and files, history, the latest job;</li>
 * <li>{@code POST /ui/api/evaluation} (or {@code /ui/api/evaluation/start}): start a job, 409 while one runs;
 * progress and the end go to every page as {@code evaluation} events;</li>
 * <li>{@code POST /ui/api/evaluation/cancel};</li>
 * <li>{@code POST /v1/internal/perplexity}: for scripts, synchronous, the result as JSON; with
 * {@code "models": [..]} every model in turn (each loaded with its settings when it is not loaded) and
 * {@code {"object": "list", "results": [..]}}, one result or {@code error} per model;</li>
 * <li>{@code GET /v1/internal/evaluations}: the logged results, newest first.</li>
 * </ul>
 * The exact {@code /v1/internal/...} patterns win over the OpenAI servlet's {@code /v1/*}; the access filter
 * (API key, same origin) guards them like the rest of the API. Without the evaluation bundle every call but
 * the page's GET answers 503 saying to install it.
 */
@Component(service = Servlet.class)
@HttpWhiteboardServletPattern({"/ui/api/evaluation", "/ui/api/evaluation/*", EvaluationServlet.PERPLEXITY,
        EvaluationServlet.EVALUATIONS})
@HttpWhiteboardServletName("loadstone-ui-evaluation")
public final class EvaluationServlet extends HttpServlet {

    private static final long serialVersionUID = 1L;
    private static final Logger LOG = System.getLogger(EvaluationServlet.class.getName());
    static final String PERPLEXITY = "/v1/internal/perplexity";
    static final String EVALUATIONS = "/v1/internal/evaluations";
    static final String NOT_INSTALLED = "Perplexity evaluation needs the evaluation bundle (io.loadstone.evaluation):"
            + " install it on the Plugins tab or put it in the plugins folder, then try again.";
    static final int DEFAULT_STRIDE = 512;

    @Reference
    private transient volatile PageEvents pages;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private transient volatile ModelManager manager;

    /** The tab backed by the current evaluator, or null while there is none. */
    private transient volatile EvaluationDesk desk;
    private transient volatile ComponentServiceObjects<?> deskSource;

    /**
     * Optional, dynamic and greedy: the evaluation bundle can come and go while pages are open. Bound through
     * {@link ComponentServiceObjects} so that no signature here names a type of the evaluation bundle: SCR
     * reflects over this class even when that bundle is absent.
     */
    @Reference(name = "evaluator", service = io.loadstone.evaluation.PerplexityEvaluator.class,
            cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, unbind = "unbindEvaluator")
    void bindEvaluator(ComponentServiceObjects<?> source) {
        Object service = source.getService();
        if (service == null) {
            return;
        }
        deskSource = source;
        EvaluationDesk old = desk;
        // Bound before the other references are set (SCR binds in name order), so both are read when used.
        desk = new PerplexityDesk(service, (event, data) -> {
            PageEvents p = pages;
            if (p != null) {
                p.publish(event, data);
            }
        }, () -> manager);
        if (old != null) {
            old.close();
        }
    }

    void unbindEvaluator(ComponentServiceObjects<?> source) {
        if (deskSource == source) {
            EvaluationDesk d = desk;
            desk = null;
            deskSource = null;
            if (d != null) {
                d.close();
            }
        }
    }

    @Deactivate
    void deactivate() {
        EvaluationDesk d = desk;
        if (d != null) {
            d.close();
        }
    }

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        String path = req.getServletPath() + HttpIo.subPath(req);
        String method = req.getMethod();
        try {
            EvaluationDesk d = desk;
            if (path.equals("/ui/api/evaluation") && method.equals("GET")) {
                HttpIo.send(resp, 200, d == null ? unavailable() : d.overview());
                return;
            }
            switch (path) {
                case EVALUATIONS -> {
                    only(method, "GET");
                    JsonObject o = new JsonObject();
                    o.addProperty("log_file", need(d).logFile());
                    o.add("evaluations", d.history());
                    HttpIo.send(resp, 200, o);
                }
                case PERPLEXITY -> {
                    only(method, "POST");
                    EvaluationInput in = input(new Params(HttpIo.readObject(req)), need(d).datasets());
                    HttpIo.send(resp, 200, d.run(in));
                }
                case "/ui/api/evaluation", "/ui/api/evaluation/start" -> {
                    only(method, "POST");
                    EvaluationInput in = input(new Params(HttpIo.readObject(req)), need(d).datasets());
                    HttpIo.send(resp, 200, d.start(in));
                }
                case "/ui/api/evaluation/cancel" -> {
                    only(method, "POST");
                    HttpIo.send(resp, 200, need(d).cancel());
                }
                default -> throw ApiException.notFound("unknown_url", "Unknown evaluation API path " + path
                        + ". Use GET/POST /ui/api/evaluation, POST /ui/api/evaluation/cancel, POST " + PERPLEXITY
                        + " or GET " + EVALUATIONS + ".");
            }
        } catch (ApiException e) {
            HttpIo.sendError(resp, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            HttpIo.sendError(resp, ApiException.shuttingDown());
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "Evaluation request " + method + " " + req.getRequestURI() + " failed", e);
            HttpIo.sendError(resp, ApiException.internal(e));
        }
    }

    private static JsonObject unavailable() {
        JsonObject o = new JsonObject();
        o.addProperty("available", false);
        o.addProperty("message", NOT_INSTALLED);
        o.add("datasets", new JsonArray());
        o.add("history", new JsonArray());
        o.add("job", JsonNull.INSTANCE);
        return o;
    }

    private static EvaluationDesk need(EvaluationDesk d) throws ApiException {
        if (d == null) {
            throw new ApiException(503, "server_error", "evaluation_unavailable", null, NOT_INSTALLED);
        }
        return d;
    }

    private static void only(String method, String allowed) throws ApiException {
        if (!method.equals(allowed)) {
            throw new ApiException(405, "invalid_request_error", "method_not_allowed", null, "Use " + allowed
                    + " here, not " + method + ".");
        }
    }

    /**
     * The request's fields, text-generation-webui style in snake_case ({@code max_length}), checked: either a
     * dataset from the datasets folder or a text, stride at least 1, max_length 0 (context length) or more,
     * method {@code windows} or {@code chunks}.
     */
    static EvaluationInput input(Params p, List<String> datasets) throws ApiException {
        String model = blankToNull(p.string("model", null));
        String dataset = blankToNull(p.string("dataset", null));
        String text = p.string("text", null);
        if (text != null && text.isBlank()) {
            if (!text.isEmpty()) {
                throw ApiException.badRequest("text", "empty_text", "'text' holds only white space; paste the text"
                        + " to evaluate, or name a dataset instead.");
            }
            text = null;
        }
        if (dataset != null && text != null) {
            throw ApiException.badRequest("dataset", "ambiguous_input", "Give either 'dataset' (a file in the"
                    + " datasets folder) or 'text', not both.");
        }
        if (dataset == null && text == null) {
            throw ApiException.badRequest("dataset", "missing_parameter", "Nothing to evaluate: give 'dataset' (one"
                    + " of " + describe(datasets) + ") or paste a 'text'.");
        }
        if (dataset != null && !datasets.contains(dataset)) {
            throw ApiException.badRequest("dataset", "dataset_not_found", "No dataset '" + dataset
                    + "' in the datasets folder. Available: " + describe(datasets) + ". Put a .txt file there, or"
                    + " paste the text instead.");
        }
        Long stride = p.integer("stride", 1, Integer.MAX_VALUE);
        Long maxLength = p.integer("max_length", 0, Integer.MAX_VALUE);
        String method = p.string("method", "windows").strip().toLowerCase(Locale.ROOT);
        if (!method.equals("windows") && !method.equals("chunks")) {
            throw ApiException.badRequest("method", "invalid_value", "'method' must be \"windows\""
                    + " (text-generation-webui's sliding windows, the default) or \"chunks\" (llama.cpp's"
                    + " perplexity tool), not \"" + p.string("method", "") + "\".");
        }
        String comment = p.string("comment", "");
        List<String> models = models(p);
        if (models != null && model != null) {
            throw ApiException.badRequest("models", "ambiguous_input", "Give either 'model' (one model) or 'models'"
                    + " (a list evaluated in turn), not both.");
        }
        return new EvaluationInput(model, dataset, text, stride == null ? DEFAULT_STRIDE : stride.intValue(),
                maxLength == null ? 0 : maxLength.intValue(), method, p.bool("force", false),
                comment == null ? "" : comment.strip(), models);
    }

    /** {@code "models": ["a", "b"]} (or one name as a string), or null when absent. */
    private static List<String> models(Params p) throws ApiException {
        com.google.gson.JsonElement e = p.raw("models");
        if (e == null || e.isJsonNull()) {
            return null;
        }
        List<String> names = new java.util.ArrayList<>();
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
            names.add(e.getAsString().strip());
        } else if (e.isJsonArray()) {
            for (com.google.gson.JsonElement n : e.getAsJsonArray()) {
                if (!n.isJsonPrimitive() || !n.getAsJsonPrimitive().isString()) {
                    throw ApiException.badRequest("models", "invalid_type", "'models' must be a list of model names"
                            + " (strings), as GET /v1/internal/model/list gives them.");
                }
                names.add(n.getAsString().strip());
            }
        } else {
            throw ApiException.badRequest("models", "invalid_type", "'models' must be a list of model names.");
        }
        names.removeIf(String::isEmpty);
        if (names.isEmpty()) {
            throw ApiException.badRequest("models", "missing_parameter", "'models' names no model; give at least"
                    + " one name, or leave it out to evaluate the loaded model.");
        }
        return names;
    }

    private static String describe(List<String> datasets) {
        return datasets.isEmpty() ? "none yet: the datasets folder is empty" : String.join(", ", datasets);
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }
}
