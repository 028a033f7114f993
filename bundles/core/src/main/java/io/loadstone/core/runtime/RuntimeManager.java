package io.loadstone.core.runtime;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Collectors;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.LogitsAccess;
import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelInfo;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.StopReason;
import io.loadstone.api.loader.TokenSink;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelEntry;
import io.loadstone.api.runtime.ModelEvent;
import io.loadstone.api.runtime.ModelEventListener;
import io.loadstone.api.runtime.ModelLogits;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.api.runtime.ModelMetadata;
import io.loadstone.api.runtime.ModelSettings;
import io.loadstone.core.models.FormatHints;
import io.loadstone.core.models.LoraFolder;
import io.loadstone.core.models.MetadataReader;
import io.loadstone.core.models.ModelFolder;
import io.loadstone.core.settings.UserSettings;

/**
 * The runtime. Loaders come and go as services (a bundle dropped into plugins/, updated,
 * uninstalled); models they loaded are closed the moment their loader leaves, and users
 * are told. Loads are serialised; generations run concurrently with each other and
 * with listing, and a failed load never takes away a model that was working.
 */
@Component(service = ModelManager.class, configurationPid = RuntimeConfig.PID, immediate = true)
@Designate(ocd = RuntimeConfig.class)
public final class RuntimeManager implements ModelManager {

    private static final Logger LOG = System.getLogger(RuntimeManager.class.getName());

    /** Framework property: the folder relative paths (models/, loras/) are resolved against. */
    public static final String HOME_PROPERTY = "loadstone.home";

    /** Loaders by service reference; several services may share an id (an upgrade in progress). */
    private final Map<ServiceReference<ModelLoader>, ModelLoader> loaders = new ConcurrentHashMap<>();
    private final Map<String, Slot> loaded = new ConcurrentHashMap<>();
    private final Map<DetectionKey, Detection> detections = new ConcurrentHashMap<>();
    private final EventHub events = new EventHub();
    private final ReentrantLock loadLock = new ReentrantLock();
    private final ExecutorService background = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "loadstone-runtime");
        t.setDaemon(true);
        return t;
    });

    private volatile Path modelsDir = Paths.get("models").toAbsolutePath();
    private volatile Path lorasDir = Paths.get("loras").toAbsolutePath();
    private volatile FolderWatch lorasWatch;
    private volatile int maxLoaded = 1;
    private volatile long budgetBytes;
    private volatile int contextCap = LoaderOptions.DEFAULT_CONTEXT_CAP;
    private volatile Map<String, String> defaultLoaders = Map.of();
    private volatile UserSettings userSettings = new UserSettings(modelsDir);
    private volatile String autoload = "";
    private volatile FolderWatch watch;

    /** A model in memory and the loader service that owns it. */
    private static final class Slot {
        final String name;
        final ServiceReference<ModelLoader> loaderRef;
        final LoadedModel model;
        final ModelInfo info;
        final Capabilities capabilities;
        final ModelSource source;
        final LoaderOptions options;
        final long bytes;
        final Instant loadedAt = Instant.now();
        volatile Instant lastUsed = loadedAt;
        /** The LoRA adapters applied to this instance; a reload makes a new slot, so it starts empty. */
        volatile List<LoraAdapter> loras = List.of();
        /** Why the model stopped working by itself (see {@link #watch}); null while it works. */
        volatile String failure;

        Slot(ModelSource source, ServiceReference<ModelLoader> loaderRef, LoadedModel model,
                Capabilities capabilities, LoaderOptions options, long bytes) {
            this.name = source.name();
            this.source = source;
            this.loaderRef = loaderRef;
            this.model = model;
            this.info = model.info();
            this.capabilities = capabilities;
            this.options = options;
            this.bytes = bytes;
        }

        LoadedModelState state() {
            return new LoadedModelState(name, info, loadedAt, lastUsed, bytes);
        }
    }

    private record DetectionKey(ServiceReference<ModelLoader> loader, Path path, long modified, long size) {
    }

    /** Relative folders resolve against this (framework property loadstone.home, else the working directory). */
    private volatile Path home = Paths.get("").toAbsolutePath();

    @Activate
    void activate(BundleContext context, RuntimeConfig config) {
        String h = context.getProperty(HOME_PROPERTY);
        if (h != null && !h.isBlank()) {
            home = Paths.get(h).toAbsolutePath().normalize();
        }
        apply(config);
        background.execute(this::tryAutoload);
    }

    @Modified
    void modified(RuntimeConfig config) {
        Path before = modelsDir;
        Path lorasBefore = lorasDir;
        apply(config);
        if (!before.equals(modelsDir)) {
            events.fire(new ModelEvent(ModelEvent.Type.MODELS_CHANGED, null, null, "Models folder is now " + modelsDir,
                    null));
        }
        if (!lorasBefore.equals(lorasDir)) {
            events.fire(new ModelEvent(ModelEvent.Type.LORAS_CHANGED, null, null, "LoRA folder is now " + lorasDir,
                    null));
        }
        background.execute(this::tryAutoload);
    }

    private void apply(RuntimeConfig config) {
        Path models = home.resolve(config.models_dir()).toAbsolutePath().normalize();
        // The settings file before the folder: whoever sees the new folder must get its settings too
        // (a Save right after a folder change once went to the old folder's config-user.json).
        userSettings = new UserSettings(models);
        modelsDir = models;
        lorasDir = home.resolve(config.loras_dir()).toAbsolutePath().normalize();
        maxLoaded = Math.max(1, config.max_loaded_models());
        budgetBytes = config.memory_budget_mb() > 0 ? config.memory_budget_mb() * 1024L * 1024L
                : MemoryBudget.defaultBytes();
        contextCap = Math.max(256, config.context_cap());
        Map<String, String> defaults = new LinkedHashMap<>();
        for (String entry : config.default_loaders()) {
            int eq = entry.indexOf('=');
            if (eq > 0) {
                defaults.put(entry.substring(0, eq).trim().toLowerCase(java.util.Locale.ROOT), entry.substring(eq + 1)
                        .trim());
            } else {
                LOG.log(Level.WARNING, "default.loaders entry '" + entry + "' is not format=loader; ignored");
            }
        }
        defaultLoaders = Map.copyOf(defaults);
        autoload = config.model() == null ? "" : config.model().trim();
        try {
            Files.createDirectories(modelsDir);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Cannot create the models folder " + modelsDir + ": " + e.getMessage());
        }
        FolderWatch old = watch;
        watch = FolderWatch.start(modelsDir, () -> {
            detections.clear();
            events.fire(new ModelEvent(ModelEvent.Type.MODELS_CHANGED, null, null, "", null));
            if (!autoload.isEmpty()) {
                background.execute(this::tryAutoload);
            }
        });
        if (old != null) {
            old.close();
        }
        // The LoRA menu refreshes itself when an adapter is copied in, as the model menu does.
        try {
            Files.createDirectories(lorasDir);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Cannot create the LoRA folder " + lorasDir + ": " + e.getMessage());
        }
        FolderWatch oldLoras = lorasWatch;
        lorasWatch = FolderWatch.start(lorasDir, () -> events.fire(new ModelEvent(ModelEvent.Type.LORAS_CHANGED,
                null, null, "", null)));
        if (oldLoras != null) {
            oldLoras.close();
        }
    }

    @Deactivate
    void deactivate() {
        FolderWatch w = watch;
        if (w != null) {
            w.close();
        }
        FolderWatch lw = lorasWatch;
        if (lw != null) {
            lw.close();
        }
        background.shutdownNow();
        for (String name : List.copyOf(loaded.keySet())) {
            Slot s = loaded.remove(name);
            if (s != null) {
                closeQuietly(s);
            }
        }
        events.close();
    }

    // ---- loaders -------------------------------------------------------------------------

    @Reference(service = ModelLoader.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void addLoader(ServiceReference<ModelLoader> ref, ModelLoader loader) {
        loaders.put(ref, loader);
        detections.clear();
        events.fire(new ModelEvent(ModelEvent.Type.LOADER_ADDED, null, safeId(loader),
                "Loader " + safeId(loader) + " from " + bundleOf(ref) + " is available.", null));
        if (!autoload.isEmpty()) {
            background.execute(this::tryAutoload);
        }
    }

    void removeLoader(ServiceReference<ModelLoader> ref, ModelLoader loader) {
        // Close what this loader loaded while its bundle is still able to free native memory.
        String id = safeId(loader);
        for (Slot s : List.copyOf(loaded.values())) {
            if (s.loaderRef.equals(ref) && loaded.remove(s.name, s)) {
                closeQuietly(s);
                events.fire(new ModelEvent(ModelEvent.Type.LOADER_GONE, s.name, id, "The " + id + " loader ("
                        + bundleOf(ref) + ") went away (stopped, updated or uninstalled), so '" + s.name
                        + "' was unloaded. Load it again when the loader is back, or with another loader.", null));
            }
        }
        loaders.remove(ref);
        detections.keySet().removeIf(k -> k.loader().equals(ref));
        events.fire(new ModelEvent(ModelEvent.Type.LOADER_REMOVED, null, id, "Loader " + id + " is gone.", null));
    }

    @Reference(service = ModelEventListener.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC)
    void addListener(ModelEventListener l) {
        events.add(l);
    }

    void removeListener(ModelEventListener l) {
        events.remove(l);
    }

    private static String safeId(ModelLoader loader) {
        try {
            return loader.id();
        } catch (RuntimeException e) {
            return loader.getClass().getName();
        }
    }

    private static String bundleOf(ServiceReference<?> ref) {
        var b = ref.getBundle();
        return b == null ? "unknown bundle" : b.getSymbolicName() + " " + b.getVersion();
    }

    /** Highest-ranked service with this id (ServiceReference ordering is by ranking, then age). */
    private Optional<Map.Entry<ServiceReference<ModelLoader>, ModelLoader>> loader(String id) {
        return loaders.entrySet().stream().filter(e -> safeId(e.getValue()).equals(id))
                .max(Map.Entry.comparingByKey());
    }

    @Override
    public List<LoaderInfo> loaders() {
        Map<String, LoaderInfo> byId = new LinkedHashMap<>();
        loaders.entrySet().stream().sorted(Map.Entry.<ServiceReference<ModelLoader>, ModelLoader>comparingByKey()
                .reversed()).forEach(e -> {
                    try {
                        ModelLoader l = e.getValue();
                        var b = e.getKey().getBundle();
                        byId.putIfAbsent(l.id(), new LoaderInfo(l.id(), l.description(),
                                b == null ? "" : b.getSymbolicName(), b == null ? "" : b.getVersion().toString(),
                                l.capabilities(), l.options()));
                    } catch (RuntimeException ex) {
                        LOG.log(Level.WARNING, "Loader from " + bundleOf(e.getKey()) + " failed to describe itself",
                                ex);
                    }
                });
        return byId.values().stream().sorted(Comparator.comparing(LoaderInfo::id, String.CASE_INSENSITIVE_ORDER))
                .toList();
    }

    // ---- models folder -------------------------------------------------------------------

    @Override
    public Path modelsDir() {
        return modelsDir;
    }

    @Override
    public void refresh() {
        detections.clear();
        events.fire(new ModelEvent(ModelEvent.Type.MODELS_CHANGED, null, null, "Refreshed", null));
    }

    @Override
    public List<ModelEntry> models() {
        List<ModelSource> sources;
        try {
            sources = ModelFolder.list(modelsDir);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Cannot list " + modelsDir + ": " + e.getMessage());
            return List.of();
        }
        List<ModelEntry> out = new ArrayList<>(sources.size());
        for (ModelSource source : sources) {
            out.add(entry(source));
        }
        return out;
    }

    private ModelEntry entry(ModelSource source) {
        long size = ModelFolder.size(source.path()); // walks the folder: once per listing, not per loader
        List<ModelEntry.Candidate> candidates = new ArrayList<>();
        Map<String, Detection> rejections = new LinkedHashMap<>();
        verdicts(source, size).forEach((id, d) -> {
            if (d.accepted()) {
                candidates.add(new ModelEntry.Candidate(id, d));
            } else {
                rejections.put(id, d);
            }
        });
        candidates.sort(Comparator.comparingInt((ModelEntry.Candidate c) -> c.detection().score()).reversed()
                .thenComparing(ModelEntry.Candidate::loaderId, String.CASE_INSENSITIVE_ORDER));
        String hint = candidates.isEmpty() ? hint(source, rejections) : "";
        return new ModelEntry(source.name(), source.path(), size, candidates, hint);
    }

    /** Each installed loader's verdict on a model, by id (of several services with one id, the best ranked). */
    private Map<String, Detection> verdicts(ModelSource source, long size) {
        Map<String, Detection> out = new LinkedHashMap<>();
        loaders.entrySet().stream().sorted(Map.Entry.<ServiceReference<ModelLoader>, ModelLoader>comparingByKey()
                .reversed()).forEach(e -> out.computeIfAbsent(safeId(e.getValue()), id -> detect(e.getKey(),
                        e.getValue(), source, size)));
        return out;
    }

    @Override
    public Map<String, String> refusals(String model) {
        Path path = model == null || model.isBlank() ? null : modelsDir.resolve(model).normalize();
        if (path == null || !modelsDir.equals(path.getParent()) || !Files.exists(path)) {
            return Map.of();
        }
        Map<String, String> out = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        verdicts(new ModelSource(model, path), ModelFolder.size(path)).forEach((id, d) -> {
            if (!d.accepted()) {
                out.put(id, d.reason());
            }
        });
        return out;
    }

    /**
     * Why nothing can load a model. When the loader for its format is installed and still
     * refused it (a truncated GGUF), its reason is the answer, not "install that loader".
     */
    private static String hint(ModelSource source, Map<String, Detection> rejections) {
        String missing = FormatHints.missingLoader(source.path());
        for (Map.Entry<String, Detection> r : rejections.entrySet()) {
            if (missing.contains("the " + r.getKey() + " loader") && !r.getValue().reason().isBlank()) {
                return "The " + r.getKey() + " loader cannot load it: " + r.getValue().reason();
            }
        }
        return missing;
    }

    /** A loader's verdict on a model, cached until the model's files (size, folder time) or the loader change. */
    private Detection detect(ServiceReference<ModelLoader> ref, ModelLoader loader, ModelSource source, long size) {
        DetectionKey key;
        try {
            key = new DetectionKey(ref, source.path(), Files.getLastModifiedTime(source.path()).toMillis(), size);
        } catch (IOException e) {
            return Detection.no("unreadable: " + e.getMessage());
        }
        return detections.computeIfAbsent(key, k -> {
            try {
                return loader.detect(source);
            } catch (RuntimeException | LinkageError e) {
                // A broken third-party loader must not break the model list.
                LOG.log(Level.WARNING, "Loader " + safeId(loader) + " failed to inspect " + source.path(), e);
                return Detection.no("loader failed: " + e);
            }
        });
    }

    private ModelEntry find(String model) throws ModelLoadException {
        if (model == null || model.isBlank()) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "model",
                    "No model given.", "Pick a model from the list.", null);
        }
        List<ModelEntry> all = models();
        for (ModelEntry e : all) {
            if (e.name().equals(model)) {
                return e;
            }
        }
        throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "model",
                "There is no model named '" + model + "' in " + modelsDir + ".",
                all.isEmpty() ? "Put a .gguf file or a model folder there, or download one."
                        : "Available: " + all.stream().map(ModelEntry::name).collect(Collectors.joining(", ")) + ".",
                        null);
    }

    // ---- settings -----------------------------------------------------------------------

    @Override
    public ModelSettings settings(String model) throws ModelLoadException {
        return settings(find(model), null);
    }

    /**
     * The one definition of what a model's settings are, for the model menu and for every load:
     * with {@code explicitLoader} the values are those for that loader (its defaults, the files,
     * the saved values of options it has), else for the saved loader, else the preferred one.
     */
    private ModelSettings settings(ModelEntry entry, String explicitLoader) {
        ModelMetadata meta = MetadataReader.read(entry.path());
        List<String> sources = new ArrayList<>();
        Map<String, Object> saved = userSettings.saved(entry.name(), sources);
        String loaderId = explicitLoader != null && !explicitLoader.isBlank() ? explicitLoader
                : saved.get("loader") instanceof String s && loader(s).isPresent() ? s : preferredLoader(entry);
        if (loaderId != null && loader(loaderId).isEmpty()) {
            return new ModelSettings(entry.name(), loaderId, Map.of(), meta, sources);
        }
        if (loaderId == null) {
            return new ModelSettings(entry.name(), null, Map.of(), meta, sources);
        }
        ModelLoader loader = loader(loaderId).orElseThrow().getValue();
        Map<String, Object> values = new LinkedHashMap<>();
        loader.options().forEach(o -> values.put(o.name(), o.defaultValue()));
        List<String> applied = new ArrayList<>();
        applied.add("defaults of " + loaderId);
        if (meta.contextLength() > 0) {
            long ctx = Math.min(meta.contextLength(), contextCap);
            for (String k : List.of("n_ctx", "max_seq_len")) {
                if (values.containsKey(k)) {
                    values.put(k, ctx);
                }
            }
            applied.add("model files: context " + meta.contextLength() + (ctx < meta.contextLength()
                    ? " (capped at " + contextCap + "; raise it in the options if you have the memory)" : ""));
        }
        if (meta.compressPosEmb() > 1 && values.containsKey("compress_pos_emb")) {
            values.put("compress_pos_emb", meta.compressPosEmb());
        }
        if (meta.wbits() > 0 && values.containsKey("wbits")) {
            values.put("wbits", (long) meta.wbits());
        }
        if (meta.groupsize() != 0 && values.containsKey("groupsize")) {
            values.put("groupsize", (long) meta.groupsize());
        }
        if (meta.descAct() && values.containsKey("desc_act")) {
            values.put("desc_act", true);
        }
        saved.forEach((k, v) -> {
            if (values.containsKey(k)) {
                values.put(k, v);
            }
        });
        applied.addAll(sources);
        // Values from files may be strings ('4096' in YAML): normalise through the specs.
        try {
            values.putAll(LoaderOptions.validate(loader.options(), values).asMap());
        } catch (ModelLoadException e) {
            applied.add("a saved value was invalid and reset to its default: " + e.getMessage());
            values.clear();
            loader.options().forEach(o -> values.put(o.name(), o.defaultValue()));
        }
        return new ModelSettings(entry.name(), loaderId, values, meta, applied);
    }

    @Override
    public Path saveSettings(String model, String loaderId, Map<String, ?> options) throws ModelLoadException {
        ModelEntry entry = find(model);
        Map.Entry<ServiceReference<ModelLoader>, ModelLoader> chosen = chooseLoader(entry, loaderId);
        LoaderOptions opts = LoaderOptions.validate(chosen.getValue().options(), options == null ? Map.of()
                : options);
        // A saved loader that cannot load the model would make every later load of it fail.
        String id = safeId(chosen.getValue());
        Detection d = detect(chosen.getKey(), chosen.getValue(), new ModelSource(entry.name(), entry.path()),
                entry.sizeBytes());
        if (!d.accepted()) {
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "loader",
                    "The " + id + " loader cannot load '" + entry.name() + "': " + d.reason()
                    + ", so these settings were not saved.", entry.bestLoader() != null ? "Pick the "
                            + entry.bestLoader() + " loader, then save." : entry.hint(), null);
        }
        try {
            return userSettings.save(entry.name(), safeId(chosen.getValue()), opts.asMap());
        } catch (IOException e) {
            throw new ModelLoadException("Cannot write " + userSettings.file() + ": " + e.getMessage(),
                    "Check that the models folder is writable.", e);
        }
    }

    // ---- lifecycle ----------------------------------------------------------------------

    @Override
    public LoadedModelState load(String model, String loaderId, Map<String, ?> options) throws ModelLoadException {
        ModelEntry entry = find(model);
        // Every front end (web form, API, shell, autoload, evaluation, on-demand loads) comes
        // through here, so the saved settings apply to all of them alike.
        ModelSettings base = settings(entry, loaderId);
        Map.Entry<ServiceReference<ModelLoader>, ModelLoader> chosen = chooseLoader(entry, base.loader());
        Map<String, Object> merged = new LinkedHashMap<>(base.options());
        if (options != null) {
            merged.putAll(options);
        }
        return load(entry, chosen, LoaderOptions.validate(chosen.getValue().options(), merged));
    }

    @Override
    public LoadedModelState reload(String model) throws ModelLoadException {
        Slot s = slot(model);
        ModelEntry entry = find(s.name);
        return load(entry, chooseLoader(entry, s.info.loaderId()), s.options);
    }

    private LoadedModelState load(ModelEntry entry, Map.Entry<ServiceReference<ModelLoader>, ModelLoader> chosen,
            LoaderOptions opts) throws ModelLoadException {
        ModelLoader loader = chosen.getValue();
        String id = safeId(loader);
        ModelSource source = new ModelSource(entry.name(), entry.path());
        Detection d = detect(chosen.getKey(), loader, source, entry.sizeBytes());
        if (!d.accepted()) {
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "loader", "The " + id
                    + " loader cannot load '" + entry.name() + "': " + d.reason() + ".", entry.bestLoader() != null
                            ? "Use the " + entry.bestLoader() + " loader." : entry.hint(), null);
        }
        long need = entry.sizeBytes();
        long budget = budgetBytes;
        if (need > budget) {
            throw new ModelLoadException(ModelLoadException.Reason.TOO_LARGE, null, "'" + entry.name()
                    + "' needs about " + MemoryBudget.human(need) + " but the memory budget is "
                    + MemoryBudget.human(budget) + ".", "Raise memory.budget.mb (PID " + RuntimeConfig.PID
                            + ") or pick a smaller model or quantisation.", null);
        }
        loadLock.lock();
        try {
            // Make room first when the new model would not fit beside the others; remember
            // what was unloaded so a failed load can put it back.
            List<Slot> evicted = new ArrayList<>();
            while (loadedBytes() + need > budget) {
                Optional<Slot> lru = loaded.values().stream().min(Comparator.comparing((Slot s) -> s.lastUsed));
                if (lru.isEmpty() || !loaded.remove(lru.get().name, lru.get())) {
                    break;
                }
                closeQuietly(lru.get());
                evicted.add(lru.get());
                events.fire(new ModelEvent(ModelEvent.Type.UNLOADED, lru.get().name, lru.get().info.loaderId(),
                        "Unloaded to make room for '" + entry.name() + "' within the memory budget of "
                                + MemoryBudget.human(budget) + ".", null));
            }
            events.fire(new ModelEvent(ModelEvent.Type.LOADING, entry.name(), id, "Loading with " + id + " " + opts,
                    null));
            LoadedModel lm;
            try {
                lm = loader.load(source, opts);
            } catch (ModelLoadException e) {
                events.fire(new ModelEvent(ModelEvent.Type.LOAD_FAILED, entry.name(), id, e.userMessage(), null));
                restore(evicted);
                throw e;
            } catch (RuntimeException | LinkageError e) {
                ModelLoadException wrapped = new ModelLoadException("The " + id + " loader failed on '" + entry.name()
                        + "': " + e, "This is a bug in the loader; the previous model (if any) is still loaded.", e);
                events.fire(new ModelEvent(ModelEvent.Type.LOAD_FAILED, entry.name(), id, wrapped.userMessage(),
                        null));
                restore(evicted);
                throw wrapped;
            }
            if (!loaders.containsKey(chosen.getKey())) {
                // The loader left while loading: its unbind already ran, so we must close what it gave us.
                lm.close();
                throw new ModelLoadException("The " + id + " loader went away while loading '" + entry.name() + "'.",
                        "Load it again when the loader is back.");
            }
            Slot slot = new Slot(source, chosen.getKey(), lm, loader.capabilities(), opts, need);
            Slot previous = loaded.put(entry.name(), slot);
            if (previous != null) {
                // Reload: the new instance is up, so the old one can go.
                closeQuietly(previous);
            }
            watch(slot);
            // Evictions first: the load is the news, so its LOADED event comes last and stays on screens.
            evictBeyondLimit(entry.name());
            events.fire(new ModelEvent(ModelEvent.Type.LOADED, entry.name(), id, describe(slot.info), null));
            return slot.state();
        } finally {
            loadLock.unlock();
        }
    }

    private long loadedBytes() {
        return loaded.values().stream().mapToLong(s -> s.bytes).sum();
    }

    /** Loads again what was unloaded for a load that then failed, so the user is not left with nothing. */
    private void restore(List<Slot> evicted) {
        for (Slot s : evicted) {
            ModelLoader loader = loaders.get(s.loaderRef);
            if (loader == null) {
                continue;
            }
            try {
                LoadedModel lm = loader.load(s.source, s.options);
                Slot back = new Slot(s.source, s.loaderRef, lm, s.capabilities, s.options, s.bytes);
                loaded.put(s.name, back);
                watch(back);
                events.fire(new ModelEvent(ModelEvent.Type.LOADED, s.name, s.info.loaderId(),
                        "Restored after the failed load.", null));
            } catch (ModelLoadException | RuntimeException | LinkageError e) {
                LOG.log(Level.WARNING, "Could not restore " + s.name + ": " + e);
            }
        }
    }

    private static String describe(ModelInfo info) {
        StringBuilder sb = new StringBuilder(info.description()).append(", context ").append(info.contextLength());
        for (String w : info.warnings()) {
            sb.append(". Note: ").append(w);
        }
        return sb.toString();
    }

    private Map.Entry<ServiceReference<ModelLoader>, ModelLoader> chooseLoader(ModelEntry entry, String loaderId)
            throws ModelLoadException {
        if (loaderId == null || loaderId.isBlank()) {
            if (entry.candidates().isEmpty()) {
                throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "model",
                        "No installed loader can load '" + entry.name() + "'.", entry.hint(), null);
            }
            loaderId = preferredLoader(entry);
        }
        String wanted = loaderId;
        return loader(wanted).orElseThrow(() -> new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION,
                "loader",
                "The loader '" + wanted
                + "' is not installed.", loaders.isEmpty() ? "No loaders are installed: add a loader bundle to the "
                        + "plugins folder." : "Installed loaders: " + loaders().stream().map(LoaderInfo::id)
                                .collect(Collectors.joining(", ")) + ".", null));
    }

    /** The configured default loader for the model's format if it accepts the model, else the best fit. */
    private String preferredLoader(ModelEntry entry) {
        if (!defaultLoaders.isEmpty() && !entry.candidates().isEmpty()) {
            ModelMetadata meta = MetadataReader.read(entry.path());
            String format = meta.format().startsWith("GGUF") ? "gguf"
                    : meta.quantMethod().isEmpty() ? "hf" : meta.quantMethod();
            String wanted = defaultLoaders.get(format);
            if (wanted != null && entry.candidates().stream().anyMatch(c -> c.loaderId().equals(wanted))) {
                return wanted;
            }
        }
        return entry.bestLoader();
    }

    private void evictBeyondLimit(String keep) {
        while (loaded.size() > maxLoaded) {
            Optional<Slot> lru = loaded.values().stream().filter(s -> !s.name.equals(keep))
                    .min(Comparator.comparing(s -> s.lastUsed));
            if (lru.isEmpty() || !loaded.remove(lru.get().name, lru.get())) {
                return;
            }
            closeQuietly(lru.get());
            events.fire(new ModelEvent(ModelEvent.Type.UNLOADED, lru.get().name, safeId(loaders.getOrDefault(
                    lru.get().loaderRef, null)), "Unloaded to keep at most " + maxLoaded + " model(s) in memory.",
                    null));
        }
    }

    /**
     * A model that stops working by itself (its runner process died) is unloaded at once, with the
     * loader's message, so that the model list, /v1/models and the UI never offer a model whose every
     * call would fail; loading it again starts afresh.
     */
    private void watch(Slot slot) {
        try {
            slot.model.onFailure(message -> {
                slot.failure = message; // first: a generation the close below cuts short reports this
                if (loaded.remove(slot.name, slot)) {
                    closeQuietly(slot);
                    events.fire(new ModelEvent(ModelEvent.Type.UNLOADED, slot.name, slot.info.loaderId(), message
                            + " '" + slot.name + "' was unloaded; load it again to continue.", null));
                }
            });
        } catch (RuntimeException | LinkageError e) {
            // A loader whose onFailure throws must not undo a load that worked; it just goes unwatched.
            LOG.log(Level.WARNING, "Cannot watch " + slot.name + " for failures", e);
        }
    }

    private static void closeQuietly(Slot s) {
        try {
            s.model.close();
        } catch (RuntimeException | LinkageError e) {
            LOG.log(Level.WARNING, "Closing " + s.name + " failed", e);
        }
    }

    @Override
    public boolean unload(String model) {
        Slot s = model == null ? mostRecent().orElse(null) : loaded.get(model);
        if (s == null || !loaded.remove(s.name, s)) {
            return false;
        }
        closeQuietly(s);
        events.fire(new ModelEvent(ModelEvent.Type.UNLOADED, s.name, s.info.loaderId(), "Unloaded.", null));
        return true;
    }

    @Override
    public List<LoadedModelState> loaded() {
        return loaded.values().stream().sorted(Comparator.comparing((Slot s) -> s.loadedAt)).map(Slot::state)
                .toList();
    }

    @Override
    public Optional<LoadedModelState> loaded(String model) {
        return Optional.ofNullable(loaded.get(model)).map(Slot::state);
    }

    private Optional<Slot> mostRecent() {
        return loaded.values().stream().max(Comparator.comparing((Slot s) -> s.loadedAt));
    }

    // ---- LoRA adapters --------------------------------------------------------------------

    @Override
    public Path lorasDir() {
        return lorasDir;
    }

    @Override
    public List<String> loras() {
        return LoraFolder.list(lorasDir);
    }

    /**
     * Everything is checked before the model is touched; the change itself runs under the load
     * lock, as loads do, so it never races a reload or eviction of the same model. Generations
     * are not blocked: the loader's contract lets one that is running finish with its adapters.
     */
    @Override
    public List<LoraAdapter> setLoras(String model, List<String> names, List<Double> scales)
            throws ModelLoadException {
        Slot s = model == null || model.isBlank() ? mostRecent().orElse(null) : loaded.get(model);
        if (s == null) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "model",
                    model == null || model.isBlank() ? "No model is loaded, so no LoRA can be "
                    + "applied." : "The model '" + model + "' is not loaded.", loaded.isEmpty()
                            ? "Load a model first, then apply the LoRA(s)."
                            : "Loaded: " + String.join(", ", loaded.keySet()) + ".", null);
        }
        List<String> wanted = names == null ? List.of() : List.copyOf(names);
        if (scales != null && scales.size() != wanted.size()) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "lora_scales",
                    "Got " + wanted.size() + " LoRA name(s) but " + scales.size() + " scale(s).",
                    "Give one scale per LoRA, or none (each is then 1).", null);
        }
        List<String> known = loras();
        Set<String> seen = new TreeSet<>();
        for (String n : wanted) {
            if (!known.contains(n)) {
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "lora_names",
                        "There is no LoRA named '" + n + "' in " + lorasDir + ".",
                        known.isEmpty() ? "The LoRA folder has no adapters: put a PEFT adapter folder (with "
                                + "adapter_config.json) there." : "Known LoRAs: " + String.join(", ", known) + ".",
                                null);
            }
            if (!seen.add(n)) {
                throw new ModelLoadException("The LoRA '" + n + "' is named twice.", "Name each LoRA once; "
                        + "use its scale to strengthen it.");
            }
        }
        Capabilities.LoraSupport support = s.capabilities.lora();
        String loaderId = s.info.loaderId();
        if (!wanted.isEmpty() && support == Capabilities.LoraSupport.NONE) {
            List<String> able = loaders().stream().filter(l -> l.capabilities().lora()
                    != Capabilities.LoraSupport.NONE).map(LoaderInfo::id).toList();
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "lora_names",
                    "The " + loaderId + " loader cannot apply LoRA adapters, so '" + s.name
                    + "' cannot take " + String.join(", ", wanted) + ".", able.isEmpty()
                            ? "No installed loader can apply LoRAs: install llama.cpp or Transformers."
                            : "Load the model with a loader that can: " + String.join(", ", able) + ".", null);
        }
        if (wanted.size() > 1 && support == Capabilities.LoraSupport.SINGLE) {
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "lora_names",
                    "The " + loaderId + " loader applies one LoRA at a time, not "
                    + wanted.size() + " (" + String.join(", ", wanted) + ").", "Pick one LoRA, or load the "
                            + "model with a loader that applies several.", null);
        }
        List<LoraAdapter> adapters = new ArrayList<>(wanted.size());
        for (int i = 0; i < wanted.size(); i++) {
            double scale = scales == null || scales.get(i) == null ? 1.0 : scales.get(i);
            if (!Double.isFinite(scale)) {
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "lora_scales",
                        "The scale " + scale + " for LoRA '" + wanted.get(i)
                        + "' is not a finite number.", "Use a number such as 1 (as trained) or 0.5.", null);
            }
            adapters.add(new LoraAdapter(wanted.get(i), lorasDir.resolve(wanted.get(i)), scale));
        }
        List<LoraAdapter> applied = List.copyOf(adapters);
        loadLock.lock();
        try {
            if (loaded.get(s.name) != s) {
                throw new ModelLoadException("'" + s.name + "' was unloaded or reloaded while the LoRAs were "
                        + "being applied.", "Apply them again to the model now loaded.");
            }
            try {
                s.model.setLoras(applied);
            } catch (RuntimeException | LinkageError e) {
                throw new ModelLoadException("The " + loaderId + " loader failed applying " + names(applied) + " to '"
                        + s.name + "': " + e, "This is a bug in the loader; the previous LoRA set ("
                                + names(s.loras) + ") should still be applied.", e);
            }
            s.loras = applied;
            s.lastUsed = Instant.now();
        } finally {
            loadLock.unlock();
        }
        events.fire(new ModelEvent(ModelEvent.Type.LORAS_CHANGED, s.name, loaderId, applied.isEmpty()
                ? "No LoRA applied to '" + s.name + "'." : "Applied " + describeLoras(applied) + " to '" + s.name
                        + "'.", null));
        return applied;
    }

    @Override
    public List<LoraAdapter> loras(String model) {
        Slot s = model == null || model.isBlank() ? mostRecent().orElse(null) : loaded.get(model);
        return s == null ? List.of() : s.loras;
    }

    private static String names(List<LoraAdapter> adapters) {
        return adapters.isEmpty() ? "none" : adapters.stream().map(LoraAdapter::name).collect(Collectors.joining(
                ", "));
    }

    private static String describeLoras(List<LoraAdapter> adapters) {
        return adapters.stream().map(a -> a.scale() == 1.0 ? a.name() : a.name() + " (scale " + a.scale() + ")")
                .collect(Collectors.joining(", "));
    }

    // ---- generation ---------------------------------------------------------------------

    @Override
    public GenerationResult generate(String model, GenerationRequest request, TokenSink sink)
            throws ModelLoadException {
        Slot s = model == null ? mostRecent().orElse(null) : loaded.get(model);
        if (s == null) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "model",
                    model == null ? "No model is loaded." : "The model '" + model
                    + "' is not loaded.", loaded.isEmpty() ? "Load a model first."
                            : "Loaded: " + String.join(", ", loaded.keySet()) + ".", null);
        }
        checkSamplers(s, request);
        s.lastUsed = Instant.now();
        try {
            GenerationResult r = s.model.generate(fitToContext(s, request), sink);
            if (r.reason() == StopReason.CLOSED && s.failure != null) {
                throw failed(s, null);
            }
            return r;
        } catch (ModelLoadException e) {
            throw s.failure != null ? failed(s, e) : e;
        } catch (RuntimeException | LinkageError e) {
            throw new ModelLoadException("Generation with '" + s.name + "' failed: " + e,
                    "This is a bug in the " + s.info.loaderId() + " loader; the model is still loaded.", e);
        } finally {
            s.lastUsed = Instant.now();
        }
    }

    /** A generation cut short because its model failed (its runner died): the failure, not "closed", is the news. */
    private static ModelLoadException failed(Slot s, Exception cause) {
        return new ModelLoadException(s.failure, "'" + s.name + "' was unloaded; load it again to continue.", cause);
    }

    /** A loaded model by name (null or blank: the most recently loaded one), or why there is none. */
    private Slot slot(String model) throws ModelLoadException {
        Slot s = model == null || model.isBlank() ? mostRecent().orElse(null) : loaded.get(model);
        if (s == null) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "model",
                    model == null || model.isBlank() ? "No model is loaded."
                    : "The model '" + model + "' is not loaded.", loaded.isEmpty() ? "Load a model first."
                            : "Loaded: " + String.join(", ", loaded.keySet()) + ".", null);
        }
        return s;
    }

    @Override
    public int[] tokenize(String model, String text, boolean addSpecial) throws ModelLoadException {
        Slot s = slot(model);
        try {
            return s.model.tokenize(text == null ? "" : text, addSpecial);
        } catch (RuntimeException | LinkageError e) {
            throw new ModelLoadException("Tokenizing with '" + s.name + "' failed: " + e, "This is a bug in the "
                    + s.info.loaderId() + " loader; the model is still loaded.", e);
        }
    }

    @Override
    public String detokenize(String model, int[] tokens) throws ModelLoadException {
        Slot s = slot(model);
        int vocab = s.info.vocabSize();
        for (int t : tokens) {
            if (t < 0 || vocab > 0 && t >= vocab) {
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "tokens",
                        "Token id " + t + " is outside the vocabulary of '" + s.name + "' (0 to "
                        + (vocab - 1) + ").", "Send ids that this model's tokenizer produced.", null);
            }
        }
        try {
            return s.model.detokenize(tokens);
        } catch (RuntimeException | LinkageError e) {
            throw new ModelLoadException("Detokenizing with '" + s.name + "' failed: " + e, "This is a bug in the "
                    + s.info.loaderId() + " loader; the model is still loaded.", e);
        }
    }

    @Override
    public ModelLogits logits(String model) throws ModelLoadException {
        Slot s = slot(model);
        Optional<LogitsAccess> access = s.capabilities.logits() ? s.model.logits() : Optional.empty();
        if (access.isEmpty()) {
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "loader",
                    "The " + s.info.loaderId() + " loader exposes no logits, so '" + s.name
                    + "' cannot be evaluated.", "Load it with a loader that does, such as llamacpp_HF or "
                            + "Transformers (llama.cpp does too).", null);
        }
        Slot slot = s;
        return new SlotLogits(s.name, s.info.loaderId(), s.info.effectiveOptions(), s.info.contextLength(), s.model,
                access.get(), () -> loaded.get(slot.name) == slot, () -> slot.lastUsed = Instant.now());
    }

    /**
     * The truncation length follows the loaded context, as in text-generation-webui: a prompt
     * that leaves no room for the requested new tokens keeps its end (the most recent text),
     * and a request for more new tokens than the context holds is reduced to what fits.
     */
    private static GenerationRequest fitToContext(Slot s, GenerationRequest request) throws ModelLoadException {
        int ctx = s.info.contextLength();
        if (ctx <= 0) {
            return request;
        }
        int[] ids = s.model.tokenize(request.prompt(), request.addBos());
        int maxNew = Math.min(request.maxNewTokens(), Math.max(1, ctx - Math.min(ids.length, ctx / 2)));
        int room = ctx - maxNew;
        if (ids.length <= room && maxNew == request.maxNewTokens()) {
            return request;
        }
        String prompt = request.prompt();
        if (ids.length > room) {
            int bos = request.addBos() && ids.length > 0 && s.model.tokenize("", true).length == 1 ? 1 : 0;
            int[] tail = java.util.Arrays.copyOfRange(ids, ids.length - (room - bos), ids.length);
            prompt = s.model.detokenize(tail);
            LOG.log(Level.INFO, () -> "Prompt of " + ids.length + " tokens cut to its last " + (room - bos)
                    + " to fit the context of " + ctx + " with " + maxNew + " new tokens");
        }
        return new GenerationRequest(prompt, maxNew, request.sampling(), request.stop(), request.addBos(),
                request.banEos(), request.negativePrompt());
    }

    private static void checkSamplers(Slot s, GenerationRequest request) throws ModelLoadException {
        Set<String> unsupported = new TreeSet<>(request.setParameters().keySet());
        unsupported.removeAll(s.capabilities.samplers());
        if (!request.negativePrompt().isEmpty() && !s.capabilities.cfg()) {
            unsupported.add("negative_prompt");
        }
        if (!unsupported.isEmpty()) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, null,
                    "The " + s.info.loaderId() + " loader does not support "
                    + String.join(", ", unsupported) + ".", "Leave them at their neutral values or load the model "
                            + "with a loader that has them. Supported: " + String.join(", ",
                                    new TreeSet<>(s.capabilities.samplers())) + ".", null);
        }
    }

    // ---- autoload -----------------------------------------------------------------------

    private void tryAutoload() {
        String name = autoload;
        if (name.isEmpty() || !loaded.isEmpty()) {
            return;
        }
        List<ModelEntry> models = models();
        Optional<ModelEntry> target = name.equals("*") ? models.stream().filter(m -> m.bestLoader() != null)
                .findFirst() : models.stream().filter(m -> m.name().equals(name)).findFirst();
        if (target.isEmpty() || target.get().bestLoader() == null) {
            return; // Tried again when a loader arrives.
        }
        try {
            load(target.get().name(), null, Map.of());
            autoload = "";
        } catch (ModelLoadException e) {
            LOG.log(Level.WARNING, "Could not load " + target.get().name() + " at start: " + e.userMessage());
            autoload = "";
        }
    }
}
