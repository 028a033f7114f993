package io.loadstone.ui.generation;

import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.TokenSink;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelEntry;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.ui.http.ApiException;
import io.loadstone.ui.server.ServerConfig;

/**
 * Runs generations for the web UI and the API: picks the model (loading it on demand, once
 * for all the requests that want it), waits its turn in the model's line (FIFO), and turns
 * the runtime's refusals into HTTP answers.
 */
@Component(service = Generations.class, configurationPid = ServerConfig.PID)
public final class Generations {

    /** Told while a request waits for its turn; returns false when its client has gone. */
    @FunctionalInterface
    public interface Waiting {
        boolean stillWanted(int ahead);
    }

    @Reference
    private ModelManager manager;

    private final FairQueue queue = new FairQueue();

    /** Loads on demand in progress, by model: every request for that model waits for this one. */
    private final Map<String, CompletableFuture<LoadedModelState>> loading = new ConcurrentHashMap<>();

    /** Bumped by {@link #stopAll()}; a generation that started before the bump stops at its next token. */
    private final AtomicLong stops = new AtomicLong();

    private volatile boolean loadOnDemand = true;

    @Activate
    @Modified
    void configure(ServerConfig config) {
        loadOnDemand = config.load_on_demand();
    }

    public ModelManager manager() {
        return manager;
    }

    public Map<String, int[]> queue() {
        return queue.snapshot();
    }

    /**
     * The loaded model a request means: its {@code model} field when given, else the most
     * recently loaded one. A model that is in the models folder but not loaded is loaded first
     * (saved settings, memory budget) unless load on demand is off.
     */
    public LoadedModelState resolve(String model) throws ApiException, InterruptedException {
        List<LoadedModelState> loaded = manager.loaded();
        if (model == null || model.isBlank()) {
            return loaded.stream().max(Comparator.comparing(LoadedModelState::loadedAt)).orElseThrow(
                    () -> new ApiException(503, "server_error", "model_not_loaded", "model",
                            "No model is loaded. Load one in the web UI's Model tab or with POST "
                                    + "/v1/internal/model/load {\"model_name\": \"...\"}."));
        }
        Optional<LoadedModelState> hit = loaded.stream().filter(s -> s.name().equals(model)).findFirst();
        if (hit.isPresent()) {
            return hit.get();
        }
        boolean known = manager.models().stream().map(ModelEntry::name).anyMatch(model::equals);
        if (known && loadOnDemand) {
            return loadOnce(model);
        }
        if (known) {
            throw new ApiException(409, "invalid_request_error", "model_not_loaded", "model", "The model '" + model
                    + "' is not loaded" + (loaded.isEmpty() ? "" : " (loaded: " + String.join(", ",
                            loaded.stream().map(LoadedModelState::name).toList()) + ")")
                    + ". Load it first: POST /v1/internal/model/load {\"model_name\": \"" + model
                    + "\"}, or the web UI's Model tab (load on demand is off: " + ServerConfig.PID
                    + " load.on.demand).");
        }
        throw ApiException.notFound("model_not_found", "The model '" + model + "' does not exist. Models: "
                + String.join(", ", manager.models().stream().map(ModelEntry::name).toList()) + ".");
    }

    /**
     * Loads {@code model} with the runtime's own settings for it; requests that arrive while it
     * loads wait for that load instead of starting another (which would reload it).
     */
    private LoadedModelState loadOnce(String model) throws ApiException, InterruptedException {
        CompletableFuture<LoadedModelState> mine = new CompletableFuture<>();
        CompletableFuture<LoadedModelState> running = loading.putIfAbsent(model, mine);
        if (running == null) {
            running = mine;
            try {
                // A load that finished between the caller's look and this one counts.
                Optional<LoadedModelState> now = manager.loaded(model);
                mine.complete(now.isPresent() ? now.get() : ModelActions.load(manager, model, null, Map.of()));
            } catch (ApiException | RuntimeException e) {
                mine.completeExceptionally(e);
            } finally {
                loading.remove(model, mine);
            }
        }
        try {
            return running.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof ApiException a) {
                throw a;
            }
            throw (RuntimeException) e.getCause();
        }
    }

    /**
     * Ends every generation running now at its next token (text-generation-webui's Stop and
     * {@code /v1/internal/stop-generation}); requests still waiting in line run afterwards.
     */
    public void stopAll() {
        stops.incrementAndGet();
    }

    /** Sampling parameters the request sets that the model's loader lacks (empty when all are fine). */
    public Set<String> unsupported(LoadedModelState model, GenerationRequest request) {
        Set<String> out = new TreeSet<>(request.setParameters().keySet());
        Optional<LoaderInfo> li = manager.loaders().stream().filter(l -> l.id().equals(model.info().loaderId()))
                .findFirst();
        li.ifPresent(l -> out.removeAll(l.capabilities().samplers()));
        if (li.isPresent() && !request.negativePrompt().isEmpty() && !li.get().capabilities().cfg()) {
            out.add("negative_prompt");
        }
        return li.isPresent() ? out : Set.of();
    }

    /**
     * The runtime's own refusal of parameters the model's loader lacks, as a 400, or null when
     * the request is acceptable. Asked up front, outside the model's line, so a client hears
     * about its mistake at once and before a streamed response is committed.
     */
    public ApiException refusal(LoadedModelState model, GenerationRequest request) {
        Set<String> unsupported = unsupported(model, request);
        if (unsupported.isEmpty()) {
            return null;
        }
        try {
            // The runtime checks samplers before it touches the model; the sink stops anything else at once.
            manager.generate(model.name(), request, (id, text) -> false);
        } catch (ModelLoadException e) {
            return ApiException.badRequest(String.join(",", unsupported), "unsupported_parameter", e.userMessage());
        }
        return null;
    }

    /**
     * Waits for the model's turn, then generates.
     *
     * @return the result, or empty when the client left while waiting
     * @throws ApiException 400 for parameters the loader lacks (the runtime's own message),
     *         409 when the model went away, 500 when the loader failed
     */
    public Optional<GenerationResult> generate(LoadedModelState model, GenerationRequest request, TokenSink sink,
            Waiting waiting) throws ApiException, InterruptedException {
        Set<String> unsupported = unsupported(model, request);
        try (FairQueue.Ticket ticket = queue.join(model.name())) {
            while (!ticket.awaitTurn(1, TimeUnit.SECONDS)) {
                if (!waiting.stillWanted(ticket.ahead())) {
                    return Optional.empty();
                }
            }
            long epoch = stops.get();
            TokenSink stoppable = (id, text) -> stops.get() == epoch && sink.accept(id, text);
            try {
                return Optional.of(manager.generate(model.name(), request, stoppable));
            } catch (ModelLoadException e) {
                if (!unsupported.isEmpty()) {
                    throw ApiException.badRequest(String.join(",", unsupported), "unsupported_parameter",
                            e.userMessage());
                }
                if (manager.loaded(model.name()).isEmpty()) {
                    throw new ApiException(409, "invalid_request_error", "model_not_loaded", "model",
                            e.userMessage());
                }
                if (e.reason() != ModelLoadException.Reason.FAILED) {
                    throw ApiException.of(e); // e.g. a damaged file's NaN logits: 422 naming it
                }
                throw new ApiException(500, "server_error", "generation_failed", null, e.userMessage());
            }
        }
    }
}
