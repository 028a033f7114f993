package io.loadstone.ui.openai;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletName;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletPattern;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.Sampling;
import io.loadstone.api.loader.StopReason;
import io.loadstone.api.loader.TokenSink;
import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.ModelEntry;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.ui.generation.Generations;
import io.loadstone.ui.generation.LoraActions;
import io.loadstone.ui.generation.ModelActions;
import io.loadstone.ui.generation.Params;
import io.loadstone.ui.http.ApiException;
import io.loadstone.ui.http.EventStream;
import io.loadstone.ui.http.HttpIo;
import io.loadstone.ui.http.PatientReply;
import jakarta.servlet.Servlet;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

/**
 * The OpenAI-compatible API ({@code /v1/models}, {@code /v1/completions},
 * {@code /v1/chat/completions}, streamed as server-sent events when asked) and
 * text-generation-webui's model management ({@code /v1/internal/model/...}), so existing
 * clients and scripts work unchanged.
 */
@Component(service = Servlet.class)
@HttpWhiteboardServletPattern("/v1/*")
@HttpWhiteboardServletName("loadstone-openai")
public final class OpenAiServlet extends HttpServlet {

    private static final long serialVersionUID = 1L;
    private static final Logger LOG = System.getLogger(OpenAiServlet.class.getName());

    /** OpenAI's default for /v1/completions. */
    static final int COMPLETION_DEFAULT_TOKENS = 16;
    /** Chat has no OpenAI default (it runs to the context end); this keeps a forgotten limit affordable. */
    static final int CHAT_DEFAULT_TOKENS = 512;

    @Reference
    private transient Generations generations;

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        String path = HttpIo.subPath(req);
        String method = req.getMethod();
        try {
            switch (path) {
                case "/models" -> {
                    only(method, "GET");
                    HttpIo.send(resp, 200, models());
                }
                case "/completions" -> {
                    only(method, "POST");
                    complete(req, resp, false);
                }
                case "/chat/completions" -> {
                    only(method, "POST");
                    complete(req, resp, true);
                }
                case "/internal/model/list" -> {
                    only(method, "GET");
                    JsonObject o = new JsonObject();
                    o.add("model_names", HttpIo.GSON.toJsonTree(manager().models().stream().map(ModelEntry::name)
                            .toList()));
                    HttpIo.send(resp, 200, o);
                }
                case "/internal/model/info" -> {
                    only(method, "GET");
                    HttpIo.send(resp, 200, info());
                }
                case "/internal/model/load" -> {
                    only(method, "POST");
                    load(req, resp);
                }
                case "/internal/model/unload" -> {
                    only(method, "POST");
                    unload(req, resp);
                }
                case "/internal/token-count" -> {
                    only(method, "POST");
                    Params p = new Params(HttpIo.readObject(req));
                    JsonObject o = new JsonObject();
                    o.addProperty("length", encode(p).length);
                    HttpIo.send(resp, 200, o);
                }
                case "/internal/encode" -> {
                    only(method, "POST");
                    int[] tokens = encode(new Params(HttpIo.readObject(req)));
                    JsonObject o = new JsonObject();
                    o.add("tokens", HttpIo.GSON.toJsonTree(tokens));
                    o.addProperty("length", tokens.length);
                    HttpIo.send(resp, 200, o);
                }
                case "/internal/decode" -> {
                    only(method, "POST");
                    JsonObject o = new JsonObject();
                    o.addProperty("text", decode(new Params(HttpIo.readObject(req))));
                    HttpIo.send(resp, 200, o);
                }
                case "/internal/stop-generation" -> {
                    only(method, "POST");
                    HttpIo.discardBody(req);
                    generations.stopAll();
                    HttpIo.send(resp, 200, new JsonPrimitive("OK"));
                }
                case "/internal/lora/list" -> {
                    only(method, "GET");
                    JsonObject o = new JsonObject();
                    o.add("lora_names", HttpIo.GSON.toJsonTree(manager().loras()));
                    HttpIo.send(resp, 200, o);
                }
                case "/internal/lora/load" -> {
                    only(method, "POST");
                    Params p = new Params(HttpIo.readObject(req));
                    List<String> names = LoraActions.names(p.raw("lora_names"), "lora_names");
                    if (names.isEmpty()) {
                        throw ApiException.badRequest("lora_names", "missing_parameter", "No LoRA given: send "
                                + "\"lora_names\", a list from GET /v1/internal/lora/list (known: " + String.join(", ",
                                        manager().loras()) + "). POST /v1/internal/lora/unload removes them.");
                    }
                    LoraActions.apply(manager(), p.string("model_name", null), names, LoraActions.scales(p.raw(
                            "lora_scales"), "lora_scales"));
                    HttpIo.send(resp, 200, new JsonPrimitive("OK"));
                }
                case "/internal/lora/unload" -> {
                    only(method, "POST");
                    String name = null;
                    if (req.getContentLengthLong() > 0 || req.getHeader("Transfer-Encoding") != null) {
                        name = new Params(HttpIo.readObject(req)).string("model_name", null);
                    }
                    // Nothing loaded means nothing to remove: "OK", as text-generation-webui answers.
                    if (name != null || !manager().loaded().isEmpty()) {
                        LoraActions.apply(manager(), name, List.of(), null);
                    }
                    HttpIo.send(resp, 200, new JsonPrimitive("OK"));
                }
                default -> {
                    if (path.startsWith("/models/")) {
                        only(method, "GET");
                        HttpIo.send(resp, 200, model(path.substring("/models/".length())));
                    } else {
                        throw ApiException.notFound("unknown_url", "Unknown API path " + req.getRequestURI()
                                + ". Available: GET /v1/models, POST /v1/completions, POST /v1/chat/completions, "
                                + "GET /v1/internal/model/list, GET /v1/internal/model/info, "
                                + "POST /v1/internal/model/load, POST /v1/internal/model/unload, "
                                + "POST /v1/internal/token-count, POST /v1/internal/encode, "
                                + "POST /v1/internal/decode, POST /v1/internal/stop-generation, "
                                + "GET /v1/internal/lora/list, POST /v1/internal/lora/load, "
                                + "POST /v1/internal/lora/unload.");
                    }
                }
            }
        } catch (ApiException e) {
            HttpIo.sendError(resp, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            HttpIo.sendError(resp, ApiException.shuttingDown());
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "API request " + method + " " + req.getRequestURI() + " failed", e);
            HttpIo.sendError(resp, ApiException.internal(e));
        }
    }

    private ModelManager manager() {
        return generations.manager();
    }

    private static void only(String method, String allowed) throws ApiException {
        if (!method.equals(allowed)) {
            throw new ApiException(405, "invalid_request_error", "method_not_allowed", null, "Use " + allowed
                    + " here, not " + method + ".");
        }
    }

    // ---- models ------------------------------------------------------------------------

    private JsonObject models() {
        ModelManager m = manager();
        List<LoadedModelState> loaded = m.loaded();
        JsonArray data = new JsonArray();
        for (LoadedModelState s : loaded.stream().sorted(Comparator.comparing(LoadedModelState::loadedAt)
                .reversed()).toList()) {
            data.add(modelObject(s.name(), created(m, s.name()), true, s.info().loaderId()));
        }
        for (ModelEntry e : m.models()) {
            if (loaded.stream().noneMatch(s -> s.name().equals(e.name())) && e.bestLoader() != null) {
                data.add(modelObject(e.name(), created(e.path()), false, e.bestLoader()));
            }
        }
        JsonObject o = new JsonObject();
        o.addProperty("object", "list");
        o.add("data", data);
        return o;
    }

    /** OpenAI's {@code created}: when the model's file (or folder) was last written, in epoch seconds. */
    private static long created(java.nio.file.Path path) {
        try {
            return java.nio.file.Files.getLastModifiedTime(path).toInstant().getEpochSecond();
        } catch (IOException e) {
            return 0;
        }
    }

    private static long created(ModelManager m, String name) {
        return created(m.modelsDir().resolve(name));
    }

    private static JsonObject modelObject(String id, long created, boolean loaded, String loader) {
        JsonObject o = new JsonObject();
        o.addProperty("id", id);
        o.addProperty("object", "model");
        o.addProperty("created", created);
        o.addProperty("owned_by", "loadstone");
        o.addProperty("loaded", loaded);
        o.addProperty("loader", loader);
        return o;
    }

    private JsonObject model(String id) throws ApiException {
        ModelManager m = manager();
        Optional<LoadedModelState> s = m.loaded(id);
        if (s.isPresent()) {
            return modelObject(id, created(m, id), true, s.get().info().loaderId());
        }
        ModelEntry e = ModelActions.find(m, id);
        return modelObject(e.name(), created(e.path()), false, e.bestLoader());
    }

    private JsonObject info() {
        List<LoadedModelState> loaded = manager().loaded();
        Optional<LoadedModelState> last = loaded.stream().max(Comparator.comparing(LoadedModelState::loadedAt));
        JsonObject o = new JsonObject();
        o.addProperty("model_name", last.map(LoadedModelState::name).orElse("None"));
        // webui's shared.lora_names: the adapters applied to the model this reports on.
        o.add("lora_names", HttpIo.GSON.toJsonTree(last.map(s -> manager().loras(s.name()).stream().map(
                LoraAdapter::name).toList()).orElse(List.of())));
        o.add("loader", last.<JsonElement>map(s -> new JsonPrimitive(s.info().loaderId())).orElse(JsonNull.INSTANCE));
        o.add("loaded_models", HttpIo.GSON.toJsonTree(loaded.stream().map(LoadedModelState::name).toList()));
        return o;
    }

    private void load(HttpServletRequest req, HttpServletResponse resp) throws ApiException, IOException {
        Params p = new Params(HttpIo.readObject(req));
        String name = p.string("model_name", null);
        Map<String, Object> options = new LinkedHashMap<>();
        String loader = null;
        JsonElement args = p.raw("args");
        if (args != null) {
            if (!args.isJsonObject()) {
                throw ApiException.badRequest("args", "invalid_type", "'args' must be an object of loader options, "
                        + "e.g. {\"loader\": \"llama.cpp\", \"n_ctx\": 2048}.");
            }
            for (Map.Entry<String, JsonElement> e : args.getAsJsonObject().entrySet()) {
                if (e.getKey().equals("loader")) {
                    JsonElement v = e.getValue();
                    if (!v.isJsonNull() && !(v.isJsonPrimitive() && v.getAsJsonPrimitive().isString())) {
                        throw ApiException.badRequest("args.loader", "invalid_type", "'args.loader' must be a "
                                + "loader name (a string such as \"llama.cpp\"), not " + (v.isJsonObject()
                                        ? "an object" : v.isJsonArray() ? "an array" : "a " + (v.getAsJsonPrimitive()
                                                .isBoolean() ? "boolean" : "number")) + ".");
                    }
                    loader = v.isJsonNull() ? null : v.getAsString();
                } else if (!e.getValue().isJsonNull()) {
                    options.put(e.getKey(), plain(e.getValue(), "args." + e.getKey()));
                }
            }
        }
        if (p.has("settings") && !p.raw("settings").isJsonObject()) {
            throw ApiException.badRequest("settings", "invalid_type", "'settings' must be an object.");
        }
        ModelActions.load(manager(), name, loader, options);
        HttpIo.send(resp, 200, new JsonPrimitive("OK"));
    }

    private static Object plain(JsonElement e, String name) throws ApiException {
        if (!e.isJsonPrimitive()) {
            throw ApiException.badRequest(name, "invalid_type", "'" + name + "' must be a number, string or boolean.");
        }
        JsonPrimitive p = e.getAsJsonPrimitive();
        if (p.isBoolean()) {
            return p.getAsBoolean();
        }
        if (p.isNumber()) {
            double d = p.getAsDouble();
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? (Object) p.getAsLong() : (Object) d;
        }
        return p.getAsString();
    }

    private void unload(HttpServletRequest req, HttpServletResponse resp) throws ApiException, IOException {
        String name = null;
        if (req.getContentLengthLong() > 0 || req.getHeader("Transfer-Encoding") != null) {
            name = new Params(HttpIo.readObject(req)).string("model_name", null);
        }
        if (name != null && !name.isBlank()) {
            ModelActions.find(manager(), name);
        }
        manager().unload(name == null || name.isBlank() ? null : name);
        HttpIo.send(resp, 200, new JsonPrimitive("OK"));
    }

    // ---- tokenizer (text-generation-webui's /v1/internal/encode, decode, token-count) --------

    /** The tokens of {@code text} (BOS added as for a prompt), with the model named or the most recent one. */
    private int[] encode(Params p) throws ApiException, InterruptedException {
        String text = p.string("text", null);
        if (text == null) {
            throw ApiException.badRequest("text", "missing_parameter", "'text' is required (a string).");
        }
        LoadedModelState model = generations.resolve(p.string("model", null));
        try {
            return manager().tokenize(model.name(), text, p.bool("add_bos_token", true));
        } catch (io.loadstone.api.loader.ModelLoadException e) {
            throw gone(model, e);
        }
    }

    private String decode(Params p) throws ApiException, InterruptedException {
        JsonElement t = p.raw("tokens");
        if (t == null || !t.isJsonArray()) {
            throw ApiException.badRequest("tokens", t == null ? "missing_parameter" : "invalid_type",
                    "'tokens' is required: a list of token ids, as /v1/internal/encode returns them.");
        }
        LoadedModelState model = generations.resolve(p.string("model", null));
        JsonArray a = t.getAsJsonArray();
        int vocab = model.info().vocabSize();
        int[] ids = new int[a.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonElement e = a.get(i);
            double d = e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber() ? e.getAsDouble() : Double.NaN;
            if (d != Math.rint(d) || d < 0 || vocab > 0 && d >= vocab) {
                throw ApiException.badRequest("tokens[" + i + "]", "invalid_token", "tokens[" + i + "] is " + e
                        + ": token ids of '" + model.name() + "' are whole numbers from 0 to " + (vocab - 1) + ".");
            }
            ids[i] = (int) d;
        }
        try {
            return manager().detokenize(model.name(), ids);
        } catch (io.loadstone.api.loader.ModelLoadException e) {
            throw gone(model, e);
        }
    }

    /** The runtime's refusal for a model resolved a moment ago: it was unloaded (409), or the loader failed (500). */
    private ApiException gone(LoadedModelState model, io.loadstone.api.loader.ModelLoadException e) {
        return manager().loaded(model.name()).isEmpty() ? new ApiException(409, "invalid_request_error",
                "model_not_loaded", "model", e.userMessage()) : new ApiException(500, "server_error",
                        "tokenizer_failed", null, e.userMessage());
    }

    // ---- completions ---------------------------------------------------------------------

    private void complete(HttpServletRequest req, HttpServletResponse resp, boolean chat)
            throws ApiException, IOException, InterruptedException {
        Params p = new Params(HttpIo.readObject(req));
        refuseUnsupported(p, chat);
        boolean stream = p.bool("stream", false);
        boolean includeUsage = false;
        JsonElement so = p.raw("stream_options");
        if (so != null) {
            if (!so.isJsonObject()) {
                throw ApiException.badRequest("stream_options", "invalid_type", "'stream_options' must be an object.");
            }
            includeUsage = new Params(so.getAsJsonObject()).bool("include_usage", false);
        }
        boolean echo = !chat && p.bool("echo", false);
        // OpenAI: completions take "logprobs": N alternatives; chat "logprobs": true and "top_logprobs": N.
        Integer topLogprobs = logprobs(p, chat);
        List<String> stop = new ArrayList<>(p.stop("stop"));
        Map<String, Object> sampling = new HashMap<>();
        p.samplers(sampling);
        Long seed = p.integer("seed", Long.MIN_VALUE, Long.MAX_VALUE);
        if (seed != null) {
            sampling.put(Sampling.SEED, seed);
        }
        Long max = p.integer(chat && p.has("max_completion_tokens") ? "max_completion_tokens" : p.has("max_tokens")
                ? "max_tokens" : "max_new_tokens", 1, 1 << 24);
        String negative = p.string("negative_prompt", "");
        boolean addBos = p.bool("add_bos_token", true);
        boolean banEos = p.bool("ban_eos_token", false);

        // Everything about the request itself is checked before the model is looked up, so a
        // malformed request gets its 400 even when no model is loaded.
        List<ChatMessage> messages = chat ? ChatMessages.parse(p.raw("messages")) : null;
        String rawPrompt = chat ? null : prompt(p);
        LoadedModelState model = generations.resolve(p.string("model", null));
        String prompt;
        if (chat) {
            ChatPrompt cp;
            try {
                cp = ChatPrompt.render(model.info().chatTemplate(), messages);
            } catch (ChatTemplate.Refused e) {
                throw ApiException.badRequest("messages", "chat_template_refused", "The model's chat template refuses "
                        + "this conversation: " + e.getMessage());
            }
            prompt = cp.text();
            for (String s : cp.stop()) {
                if (!stop.contains(s)) {
                    stop.add(s);
                }
            }
        } else {
            prompt = rawPrompt;
        }
        int maxTokens = max != null ? max.intValue() : chat ? CHAT_DEFAULT_TOKENS : COMPLETION_DEFAULT_TOKENS;
        GenerationRequest request = new GenerationRequest(prompt, maxTokens, sampling, stop, addBos, banEos, negative);
        ApiException refused = generations.refusal(model, request);
        if (refused != null) {
            throw refused;
        }
        if (topLogprobs != null && manager().loaders().stream().noneMatch(l -> l.id().equals(model.info()
                .loaderId()) && l.capabilities().logits())) {
            throw ApiException.badRequest("logprobs", "unsupported_parameter", "The " + model.info().loaderId()
                    + " loader exposes no logits, so '" + model.name() + "' cannot give logprobs. Load it with a "
                    + "loader that does (llama.cpp, llamacpp_HF or Transformers), or leave logprobs out.");
        }
        Completion c = new Completion(chat, model.name(), echo ? prompt : "");
        if (stream && topLogprobs != null) {
            streamWithLogprobs(resp, model, request, c, includeUsage, topLogprobs);
            return;
        }
        if (stream) {
            stream(resp, model, request, c, includeUsage);
            return;
        }
        // Nobody reads a non-streamed answer whose client hung up: the probe ends the generation.
        PatientReply reply = new PatientReply(resp);
        IntList ids = new IntList();
        Optional<GenerationResult> r;
        try {
            r = generations.generate(model, request, (id, t) -> {
                ids.add(id);
                return reply.clientPresent();
            }, ahead -> reply.clientPresent());
        } catch (ApiException e) {
            reply.sendError(e);
            return;
        }
        if (r.isEmpty() || !reply.clientPresent()) {
            LOG.log(Level.DEBUG, "Client left; completion with " + model.name() + " dropped");
            return;
        }
        GenerationResult result = r.get();
        if (result.reason() == StopReason.CLOSED) {
            reply.sendError(closed(model));
            return;
        }
        JsonObject body = c.full(result);
        if (topLogprobs != null) {
            try {
                List<Logprobs.Entry> lp = Logprobs.of(manager(), model.name(), prompt, addBos, ids.toArray(),
                        topLogprobs);
                body.getAsJsonArray("choices").get(0).getAsJsonObject().add("logprobs", chat ? Logprobs.chat(lp)
                        : Logprobs.completion(lp, echo ? prompt.length() : 0));
            } catch (io.loadstone.api.loader.ModelLoadException e) {
                reply.sendError(gone(model, e));
                return;
            }
        }
        reply.send(200, body);
    }

    /** Generated token ids, as the sink sees them. */
    private static final class IntList {
        private int[] a = new int[64];
        private int n;

        synchronized void add(int v) {
            if (n == a.length) {
                a = java.util.Arrays.copyOf(a, n * 2);
            }
            a[n++] = v;
        }

        synchronized int[] toArray() {
            return java.util.Arrays.copyOf(a, n);
        }
    }

    /** How many alternatives per token the request wants logprobs with, or null for no logprobs. */
    static Integer logprobs(Params p, boolean chat) throws ApiException {
        JsonElement lp = p.raw("logprobs");
        if (chat) {
            boolean want = lp != null && !lp.isJsonNull() && p.bool("logprobs", false);
            Long top = p.integer("top_logprobs", 0, 20);
            if (top != null && !want) {
                throw ApiException.badRequest("top_logprobs", "invalid_value", "top_logprobs needs "
                        + "\"logprobs\": true.");
            }
            return want ? (top == null ? 0 : top.intValue()) : null;
        }
        if (lp == null || lp.isJsonNull()) {
            return null;
        }
        if (lp.isJsonPrimitive() && lp.getAsJsonPrimitive().isBoolean()) {
            return lp.getAsBoolean() ? 0 : null;
        }
        Long n = p.integer("logprobs", 0, 20);
        return n == null ? null : n.intValue();
    }

    private static ApiException closed(LoadedModelState model) {
        return new ApiException(409, "invalid_request_error", "model_unloaded", "model", "The model '" + model.name()
                + "' was unloaded (or its loader removed) while generating. Load it again and retry.");
    }

    private void stream(HttpServletResponse resp, LoadedModelState model, GenerationRequest request, Completion c,
            boolean includeUsage) throws ApiException, IOException, InterruptedException {
        EventStream events = new EventStream(resp);
        // The response is committed with the first token, so that a refusal before it (a sampler
        // the loader lacks, the model gone) still gets a proper status code.
        TokenSink sink = (id, text) -> {
            if (!events.isOpen() && !c.prefix(events)) {
                return false;
            }
            return text.isEmpty() || events.send(null, c.chunk(text, null).toString());
        };
        Optional<GenerationResult> r;
        try {
            r = generations.generate(model, request, sink, ahead -> true);
        } catch (ApiException e) {
            if (!events.isOpen()) {
                throw e;
            }
            events.send(null, HttpIo.errorBody(e).toString());
            events.send(null, "[DONE]");
            return;
        }
        GenerationResult result = r.orElseThrow();
        if (result.reason() == StopReason.CLOSED) {
            if (!events.isOpen()) {
                throw closed(model);
            }
            events.send(null, HttpIo.errorBody(closed(model)).toString());
            events.send(null, "[DONE]");
            return;
        }
        if (result.reason() == StopReason.CANCELLED && events.broken()) {
            LOG.log(Level.DEBUG, "Client left; generation for " + model.name() + " cancelled after "
                    + result.generatedTokens() + " tokens");
            return;
        }
        if (!events.isOpen()) {
            c.prefix(events);
        }
        events.send(null, c.chunk("", finishReason(result.reason())).toString());
        if (includeUsage) {
            JsonObject u = c.base(true);
            u.add("choices", new JsonArray());
            u.add("usage", Completion.usage(result));
            events.send(null, u.toString());
        }
        events.send(null, "[DONE]");
    }

    /**
     * {@code stream: true} with logprobs: OpenAI's chunks, one per generated token, each with that token's
     * logprobs in its choice. The logprobs come from one evaluation of prompt + completion after generating
     * (logits evaluation and generation share the model's KV cache, so they cannot interleave), hence the
     * chunks follow the generation instead of accompanying it; every client that reads logprobs from a
     * stream gets them in the shape it expects.
     */
    private void streamWithLogprobs(HttpServletResponse resp, LoadedModelState model, GenerationRequest request,
            Completion c, boolean includeUsage, int topLogprobs) throws ApiException, IOException,
            InterruptedException {
        IntList ids = new IntList();
        List<String> pieces = java.util.Collections.synchronizedList(new ArrayList<>());
        GenerationResult result = generations.generate(model, request, (id, t) -> {
            ids.add(id);
            pieces.add(t);
            return true;
        }, ahead -> true).orElseThrow();
        if (result.reason() == StopReason.CLOSED) {
            throw closed(model);
        }
        List<Logprobs.Entry> entries;
        try {
            entries = Logprobs.of(manager(), model.name(), request.prompt(), request.addBos(), ids.toArray(),
                    topLogprobs);
        } catch (io.loadstone.api.loader.ModelLoadException e) {
            throw gone(model, e);
        }
        EventStream events = new EventStream(resp);
        if (!c.prefix(events)) {
            return;
        }
        int offset = c.echo.length();
        for (int i = 0; i < entries.size(); i++) {
            Logprobs.Entry e = entries.get(i);
            JsonObject chunk = c.chunk(pieces.get(i), null);
            chunk.getAsJsonArray("choices").get(0).getAsJsonObject().add("logprobs", c.chat
                    ? Logprobs.chat(List.of(e)) : Logprobs.completion(List.of(e), offset));
            offset += e.token().length();
            if (!events.send(null, chunk.toString())) {
                return; // the client left
            }
        }
        events.send(null, c.chunk("", finishReason(result.reason())).toString());
        if (includeUsage) {
            JsonObject u = c.base(true);
            u.add("choices", new JsonArray());
            u.add("usage", Completion.usage(result));
            events.send(null, u.toString());
        }
        events.send(null, "[DONE]");
    }

    static String finishReason(StopReason reason) {
        return switch (reason) {
            case LENGTH, CONTEXT_FULL -> "length";
            default -> "stop";
        };
    }

    private static String prompt(Params p) throws ApiException {
        JsonElement e = p.raw("prompt");
        if (e == null) {
            throw ApiException.badRequest("prompt", "missing_parameter", "'prompt' is required (a string).");
        }
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
            return e.getAsString();
        }
        if (e.isJsonArray()) {
            JsonArray a = e.getAsJsonArray();
            if (a.size() == 1 && a.get(0).isJsonPrimitive() && a.get(0).getAsJsonPrimitive().isString()) {
                return a.get(0).getAsString();
            }
            throw ApiException.badRequest("prompt", "unsupported_value", "'prompt' must be one string: batches of "
                    + "prompts and token-id prompts are not supported. Send one request per prompt.");
        }
        throw ApiException.badRequest("prompt", "invalid_type", "'prompt' must be a string.");
    }

    /** OpenAI parameters that would change the answer's shape; silently ignoring them would mislead clients. */
    private static void refuseUnsupported(Params p, boolean chat) throws ApiException {
        Long n = p.integer("n", 1, 128);
        if (n != null && n != 1) {
            throw ApiException.badRequest("n", "unsupported_value", "Only n = 1 is supported: send one request per "
                    + "completion you want.");
        }
        Long bestOf = p.integer("best_of", 1, 128);
        if (bestOf != null && bestOf != 1) {
            throw ApiException.badRequest("best_of", "unsupported_value", "best_of is not supported (only 1).");
        }
        JsonElement bias = p.raw("logit_bias");
        if (bias != null && !(bias.isJsonObject() && bias.getAsJsonObject().isEmpty())) {
            throw ApiException.badRequest("logit_bias", "unsupported_parameter", "logit_bias is not supported.");
        }
        String suffix = p.string("suffix", "");
        if (!suffix.isEmpty()) {
            throw ApiException.badRequest("suffix", "unsupported_parameter", "suffix (insert mode) is not supported.");
        }
        for (String tool : List.of("tools", "functions")) {
            JsonElement t = p.raw(tool);
            if (t != null && !(t.isJsonArray() && t.getAsJsonArray().isEmpty())) {
                throw ApiException.badRequest(tool, "unsupported_parameter", "Tool and function calling is not "
                        + "supported.");
            }
        }
        JsonElement rf = p.raw("response_format");
        if (rf != null) {
            String type = rf.isJsonObject() && rf.getAsJsonObject().has("type") ? rf.getAsJsonObject().get("type")
                    .getAsString() : "";
            if (!type.equals("text")) {
                throw ApiException.badRequest("response_format", "unsupported_value", "Only response_format "
                        + "{\"type\": \"text\"} is supported (no JSON mode or schemas).");
            }
        }
        if (!chat && p.has("messages")) {
            throw ApiException.badRequest("messages", "unsupported_parameter", "'messages' belongs to "
                    + "/v1/chat/completions; /v1/completions takes 'prompt'.");
        }
    }

    // ---- response bodies ------------------------------------------------------------------

    /** Builds the JSON of one completion, whole or in chunks. */
    private static final class Completion {

        final boolean chat;
        final String model;
        final String echo;
        final String id;
        final long created = Instant.now().getEpochSecond();

        Completion(boolean chat, String model, String echo) {
            this.chat = chat;
            this.model = model;
            this.echo = echo;
            this.id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
        }

        JsonObject base(boolean chunk) {
            JsonObject o = new JsonObject();
            o.addProperty("id", id);
            o.addProperty("object", chat ? chunk ? "chat.completion.chunk" : "chat.completion" : "text_completion");
            o.addProperty("created", created);
            o.addProperty("model", model);
            return o;
        }

        /** The first chunk: the assistant role for chat, the echoed prompt for text. */
        boolean prefix(EventStream events) {
            if (!events.open()) {
                return false;
            }
            if (chat) {
                JsonObject delta = new JsonObject();
                delta.addProperty("role", "assistant");
                delta.addProperty("content", "");
                return events.send(null, withChoice(base(true), delta, null, null).toString());
            }
            return echo.isEmpty() || events.send(null, chunk(echo, null).toString());
        }

        JsonObject chunk(String text, String finish) {
            if (chat) {
                JsonObject delta = new JsonObject();
                if (finish == null) {
                    delta.addProperty("content", text);
                }
                return withChoice(base(true), delta, null, finish);
            }
            return withChoice(base(true), null, text, finish);
        }

        JsonObject full(GenerationResult r) {
            String finish = finishReason(r.reason());
            JsonObject o;
            if (chat) {
                JsonObject msg = new JsonObject();
                msg.addProperty("role", "assistant");
                msg.addProperty("content", r.text());
                o = base(false);
                JsonObject choice = new JsonObject();
                choice.addProperty("index", 0);
                choice.add("message", msg);
                choice.add("logprobs", JsonNull.INSTANCE);
                choice.addProperty("finish_reason", finish);
                JsonArray choices = new JsonArray();
                choices.add(choice);
                o.add("choices", choices);
            } else {
                o = withChoice(base(false), null, echo + r.text(), finish);
            }
            o.add("usage", usage(r));
            return o;
        }

        private JsonObject withChoice(JsonObject o, JsonObject delta, String text, String finish) {
            JsonObject choice = new JsonObject();
            choice.addProperty("index", 0);
            if (delta != null) {
                choice.add("delta", delta);
            } else {
                choice.addProperty("text", text);
            }
            choice.add("logprobs", JsonNull.INSTANCE);
            choice.add("finish_reason", finish == null ? JsonNull.INSTANCE : new JsonPrimitive(finish));
            JsonArray choices = new JsonArray();
            choices.add(choice);
            o.add("choices", choices);
            return o;
        }

        static JsonObject usage(GenerationResult r) {
            JsonObject u = new JsonObject();
            u.addProperty("prompt_tokens", r.promptTokens());
            u.addProperty("completion_tokens", r.generatedTokens());
            u.addProperty("total_tokens", r.promptTokens() + r.generatedTokens());
            return u;
        }
    }
}
