package io.loadstone.ui.web;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletName;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletPattern;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.Sampling;
import io.loadstone.api.loader.StopReason;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.ui.generation.Generations;
import io.loadstone.ui.generation.LoraActions;
import io.loadstone.ui.generation.ModelActions;
import io.loadstone.ui.generation.Params;
import io.loadstone.ui.http.ApiException;
import io.loadstone.ui.http.EventStream;
import io.loadstone.ui.http.HttpIo;
import jakarta.servlet.Servlet;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

/**
 * The web page's JSON endpoints: the runtime state, load/unload/reload, generation streamed
 * as server-sent events, and plugin management.
 */
@Component(service = Servlet.class)
@HttpWhiteboardServletPattern("/ui/api/*")
@HttpWhiteboardServletName("loadstone-ui-api")
public final class WebApiServlet extends HttpServlet {

    private static final long serialVersionUID = 1L;
    private static final Logger LOG = System.getLogger(WebApiServlet.class.getName());
    /** Largest plugin jar accepted (the llama.cpp native fragments are the big ones). */
    static final int MAX_JAR_BYTES = 512 << 20;

    @Reference
    private transient Generations generations;

    @Reference
    private transient Plugins plugins;

    /** The runtime's own configuration (PID io.loadstone.core), for the Autoload setting. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private transient volatile ConfigurationAdmin configAdmin;

    static final String CORE_PID = "io.loadstone.core";

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        String path = HttpIo.subPath(req);
        String method = req.getMethod();
        try {
            if (method.equals("GET")) {
                switch (path) {
                    case "/state" -> HttpIo.send(resp, 200, state());
                    case "/plugins" -> HttpIo.send(resp, 200, plugins.list());
                    case "/settings" -> HttpIo.send(resp, 200, settings(req.getParameter("model")));
                    case "/autoload" -> HttpIo.send(resp, 200, autoload(null));
                    default -> throw ApiException.notFound("unknown_url", "Unknown page API path " + path + ".");
                }
                return;
            }
            if (!method.equals("POST")) {
                throw new ApiException(405, "invalid_request_error", "method_not_allowed", null, "Use GET or POST.");
            }
            switch (path) {
                case "/models/refresh" -> {
                    manager().refresh();
                    HttpIo.send(resp, 200, state());
                }
                case "/load" -> load(req, resp);
                case "/reload" -> reload(req, resp);
                case "/loras" -> loras(req, resp);
                case "/loras/refresh" -> HttpIo.send(resp, 200, state());
                case "/settings" -> saveSettings(req, resp);
                case "/autoload" -> {
                    Params p = new Params(HttpIo.readObject(req));
                    HttpIo.send(resp, 200, autoload(p.bool("autoload", false)));
                }
                case "/unload" -> {
                    Params p = new Params(HttpIo.readObject(req));
                    String name = p.string("model", null);
                    boolean done = manager().unload(name == null || name.isBlank() ? null : name);
                    HttpIo.send(resp, 200, message(done ? "Unloaded `" + name + "`." : "`" + name
                            + "` was not loaded."));
                }
                case "/generate" -> generate(req, resp);
                case "/plugins/install" -> {
                    byte[] jar = HttpIo.readBody(req.getInputStream(), MAX_JAR_BYTES);
                    if (jar.length == 0) {
                        throw ApiException.badRequest("file", "missing_file", "No file was uploaded.");
                    }
                    HttpIo.send(resp, 200, message(plugins.install(jar, req.getHeader("X-File-Name"))));
                }
                default -> {
                    if (path.startsWith("/plugins/")) {
                        plugin(path.substring("/plugins/".length()), resp);
                    } else {
                        throw ApiException.notFound("unknown_url", "Unknown page API path " + path + ".");
                    }
                }
            }
        } catch (ApiException e) {
            HttpIo.sendError(resp, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            HttpIo.sendError(resp, ApiException.shuttingDown());
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "Page request " + method + " " + req.getRequestURI() + " failed", e);
            HttpIo.sendError(resp, ApiException.internal(e));
        }
    }

    private ModelManager manager() {
        return generations.manager();
    }

    private JsonObject state() {
        JsonObject o = StateJson.of(manager(), generations.queue());
        return o;
    }

    private static JsonObject message(String text) {
        JsonObject o = new JsonObject();
        o.addProperty("message", text);
        return o;
    }

    private void plugin(String rest, HttpServletResponse resp) throws ApiException, IOException {
        String[] parts = rest.split("/");
        if (parts.length != 2) {
            throw ApiException.notFound("unknown_url", "Use /ui/api/plugins/{id}/{start|stop|uninstall}.");
        }
        long id;
        try {
            id = Long.parseLong(parts[0]);
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("id", "invalid_type", "Bundle id must be a number, not '" + parts[0] + "'.");
        }
        String msg = switch (parts[1]) {
            case "start" -> plugins.start(id);
            case "stop" -> plugins.stop(id);
            case "uninstall" -> plugins.uninstall(id);
            default -> throw ApiException.notFound("unknown_url", "Unknown plugin action '" + parts[1] + "'.");
        };
        HttpIo.send(resp, 200, message(msg));
    }

    private void load(HttpServletRequest req, HttpServletResponse resp) throws ApiException, IOException {
        Params p = new Params(HttpIo.readObject(req));
        String name = p.string("model", null);
        String loader = p.string("loader", null);
        Map<String, Object> options = options(p);
        List<String> before = loadedNames();
        Instant start = Instant.now();
        LoadedModelState s = ModelActions.load(manager(), name, loader, options);
        sendLoaded("Successfully loaded", s, start, before, resp);
    }

    /** The Reload button: the same model with the loader and options it was loaded with, whichever page asks. */
    private void reload(HttpServletRequest req, HttpServletResponse resp) throws ApiException, IOException {
        String name = new Params(HttpIo.readObject(req)).string("model", null);
        List<String> before = loadedNames();
        Instant start = Instant.now();
        LoadedModelState s;
        try {
            s = manager().reload(name);
        } catch (io.loadstone.api.loader.ModelLoadException e) {
            throw name != null && manager().loaded(name).isEmpty() || manager().loaded().isEmpty()
                    ? new ApiException(409, "invalid_request_error", "model_not_loaded", "model", e.userMessage())
                    : new ApiException(500, "server_error", "load_failed", null, e.userMessage());
        }
        sendLoaded("Successfully reloaded", s, start, before, resp);
    }

    private List<String> loadedNames() {
        return manager().loaded().stream().map(LoadedModelState::name).toList();
    }

    /** The status line after a load: the load itself first; a model it unloaded to make room is a note. */
    private void sendLoaded(String what, LoadedModelState s, Instant start, List<String> before,
            HttpServletResponse resp) throws IOException {
        double secs = Duration.between(start, Instant.now()).toMillis() / 1000.0;
        StringBuilder msg = new StringBuilder(what).append(" `").append(s.name()).append("` with ")
                .append(s.info().loaderId()).append(String.format(java.util.Locale.ROOT, " in %.2f s.", secs));
        for (String w : s.info().warnings()) {
            msg.append(" Note: ").append(w);
        }
        List<String> now = loadedNames();
        List<String> evicted = before.stream().filter(n -> !n.equals(s.name()) && !now.contains(n)).toList();
        if (!evicted.isEmpty()) {
            msg.append(" Note: unloaded ").append(String.join(", ", evicted.stream().map(n -> "`" + n + "`")
                    .toList())).append(" to make room.");
        }
        JsonObject o = message(msg.toString());
        o.add("state", state());
        HttpIo.send(resp, 200, o);
    }

    /** The Apply LoRAs button: {@code {"model": name, "loras": [names], "scales": [numbers]?}}. */
    private void loras(HttpServletRequest req, HttpServletResponse resp) throws ApiException, IOException {
        Params p = new Params(HttpIo.readObject(req));
        String model = p.string("model", null);
        List<String> names = LoraActions.names(p.raw("loras"), "loras");
        List<io.loadstone.api.loader.LoraAdapter> applied = LoraActions.apply(manager(), model, names,
                LoraActions.scales(p.raw("scales"), "scales"));
        String target = model == null || model.isBlank() ? manager().loaded().stream().max(java.util.Comparator
                .comparing(LoadedModelState::loadedAt)).map(LoadedModelState::name).orElse("") : model;
        JsonObject o = message(applied.isEmpty() ? "Removed the LoRAs from `" + target + "`."
                : "Successfully applied the LoRAs to `" + target + "`: " + String.join(", ", applied.stream().map(
                        a -> a.scale() == 1.0 ? a.name() : a.name() + " (scale " + a.scale() + ")").toList()) + ".");
        o.add("state", state());
        HttpIo.send(resp, 200, o);
    }

    /** The option values of a request ({@code "options": {...}}): numbers, strings and booleans only. */
    private static Map<String, Object> options(Params p) throws ApiException {
        Map<String, Object> options = new LinkedHashMap<>();
        JsonElement opts = p.raw("options");
        if (opts != null) {
            if (!opts.isJsonObject()) {
                throw ApiException.badRequest("options", "invalid_type", "'options' must be an object.");
            }
            for (Map.Entry<String, JsonElement> e : opts.getAsJsonObject().entrySet()) {
                JsonElement v = e.getValue();
                if (v.isJsonNull()) {
                    continue;
                }
                if (!v.isJsonPrimitive()) {
                    throw ApiException.badRequest(e.getKey(), "invalid_type", "Option '" + e.getKey()
                            + "' must be a number, string or boolean.");
                }
                var prim = v.getAsJsonPrimitive();
                options.put(e.getKey(), prim.isBoolean() ? (Object) prim.getAsBoolean() : prim.isNumber()
                        ? (Object) prim.getAsDouble() : prim.getAsString());
            }
        }
        return options;
    }

    /**
     * Reads, and with a value sets, the runtime's Autoload setting in Config Admin, so every
     * open page and the next start agree on it.
     */
    private JsonObject autoload(Boolean set) throws ApiException, IOException {
        ConfigurationAdmin ca = configAdmin;
        if (ca == null) {
            throw new ApiException(503, "server_error", "no_config_admin", null,
                    "Configuration Admin is not running, so settings cannot be changed.");
        }
        Configuration c = ca.getConfiguration(CORE_PID, "?");
        Dictionary<String, Object> props = c.getProperties() == null ? new Hashtable<>() : c.getProperties();
        if (set != null) {
            props.put("autoload", set);
            c.updateIfDifferent(props);
        }
        JsonObject o = new JsonObject();
        o.addProperty("autoload", Boolean.parseBoolean(String.valueOf(props.get("autoload"))));
        return o;
    }

    /** A model's settings as the Model tab shows them when it is selected. */
    private JsonObject settings(String model) throws ApiException {
        if (model == null || model.isBlank()) {
            throw ApiException.badRequest("model", "missing_parameter", "Name a model: ?model=NAME.");
        }
        try {
            return StateJson.settings(manager().settings(model));
        } catch (io.loadstone.api.loader.ModelLoadException e) {
            throw ApiException.notFound("model_not_found", e.userMessage());
        }
    }

    /** Saves a model's loader and options to config-user.json (validated against the loader's options). */
    private void saveSettings(HttpServletRequest req, HttpServletResponse resp) throws ApiException, IOException {
        Params p = new Params(HttpIo.readObject(req));
        String name = p.string("model", null);
        if (name == null || name.isBlank()) {
            throw ApiException.badRequest("model", "missing_parameter", "Name the model whose settings to save.");
        }
        try {
            java.nio.file.Path file = manager().saveSettings(name, p.string("loader", null), options(p));
            HttpIo.send(resp, 200, message("Settings for `" + name + "` saved to " + file + "."));
        } catch (io.loadstone.api.loader.ModelLoadException e) {
            throw ApiException.badRequest("options", "invalid_settings", e.userMessage());
        }
    }

    /**
     * Streams a generation as server-sent events: {@code queued} while other requests run on
     * the model, {@code token} per piece of text, then {@code done} or {@code error}. The
     * Stop button closes the connection; the next write fails and the generation stops.
     */
    private void generate(HttpServletRequest req, HttpServletResponse resp)
            throws ApiException, IOException, InterruptedException {
        Params p = new Params(HttpIo.readObject(req));
        String prompt = p.string("prompt", null);
        if (prompt == null || prompt.isBlank()) {
            throw ApiException.badRequest("prompt", "missing_parameter", "Write a prompt first: the model continues "
                    + "the text you give it.");
        }
        Long max = p.integer("max_new_tokens", 1, 1 << 24);
        Long seed = p.integer("seed", Long.MIN_VALUE, Long.MAX_VALUE);
        Map<String, Object> sampling = new HashMap<>();
        JsonElement params = p.raw("params");
        if (params != null) {
            if (!params.isJsonObject()) {
                throw ApiException.badRequest("params", "invalid_type", "'params' must be an object.");
            }
            Params sp = new Params(params.getAsJsonObject());
            for (String k : params.getAsJsonObject().keySet()) {
                if (!Sampling.all().contains(k)) {
                    throw ApiException.badRequest(k, "unknown_parameter", "Unknown generation parameter '" + k + "'.");
                }
            }
            sp.samplers(sampling);
        }
        if (seed != null) {
            sampling.put(Sampling.SEED, seed);
        }
        List<String> stop = p.stop("stop");
        LoadedModelState model = generations.resolve(p.string("model", null));
        GenerationRequest request = new GenerationRequest(prompt, max == null ? 200 : max.intValue(), sampling, stop,
                p.bool("add_bos_token", true), p.bool("ban_eos_token", false), p.string("negative_prompt", ""));
        // The page hides parameters the loader lacks; a stale page may still send them.
        ApiException refused = generations.refusal(model, request);
        if (refused != null) {
            throw refused;
        }
        EventStream events = new EventStream(resp);
        events.open();
        JsonObject start = new JsonObject();
        start.addProperty("model", model.name());
        events.send("start", start.toString());
        Optional<GenerationResult> r;
        try {
            r = generations.generate(model, request, (id, text) -> {
                if (text.isEmpty()) {
                    return !events.broken();
                }
                JsonObject t = new JsonObject();
                t.addProperty("text", text);
                return events.send("token", t.toString());
            }, ahead -> {
                JsonObject q = new JsonObject();
                q.addProperty("ahead", ahead);
                return events.send("queued", q.toString());
            });
        } catch (ApiException e) {
            events.send("error", HttpIo.errorBody(e).toString());
            return;
        }
        if (r.isEmpty()) {
            return;
        }
        GenerationResult g = r.get();
        JsonObject done = new JsonObject();
        // The runtime shortens a request that would overflow the context to what fits; ending there
        // is the context filling up, not the length the user asked for.
        boolean full = g.reason() == StopReason.CONTEXT_FULL || g.reason() == StopReason.LENGTH
                && g.generatedTokens() < request.maxNewTokens();
        done.addProperty("reason", full ? StopReason.CONTEXT_FULL.name() : g.reason().name());
        done.addProperty("promptTokens", g.promptTokens());
        done.addProperty("tokens", g.generatedTokens());
        done.addProperty("tokensPerSecond", g.tokensPerSecond());
        done.addProperty("promptSeconds", g.promptNanos() / 1e9);
        done.addProperty("seconds", g.generateNanos() / 1e9);
        if (g.reason() == StopReason.CLOSED) {
            done.addProperty("message", "The model was unloaded while generating.");
        } else if (full) {
            done.addProperty("message", "The context of " + model.info().contextLength() + " tokens is full: the "
                    + "model cannot write more. Shorten the prompt, or reload with a larger n_ctx / max_seq_len.");
        }
        events.send("done", done.toString());
    }
}
