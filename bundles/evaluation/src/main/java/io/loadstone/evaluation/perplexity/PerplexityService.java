package io.loadstone.evaluation.perplexity;

import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.ModelLogits;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.api.runtime.ModelSettings;
import io.loadstone.evaluation.EvaluationProgress;
import io.loadstone.evaluation.EvaluationRequest;
import io.loadstone.evaluation.EvaluationResult;
import io.loadstone.evaluation.PerplexityEvaluator;
import io.loadstone.evaluation.PerplexityMethod;

/**
 * The perplexity evaluator: validates a request, takes the model's logits from the runtime,
 * runs the chosen method and logs the result. A named model that is not loaded is loaded with
 * its settings first (text-generation-webui does the same for each model of a multi-model
 * run) and left loaded; it never unloads one itself: the runtime's memory budget decides what
 * has to go, so a model a chat uses is only unloaded when the new one would not fit beside it.
 */
@Component(service = PerplexityEvaluator.class, configurationPid = EvaluationConfig.PID)
@Designate(ocd = EvaluationConfig.class)
public final class PerplexityService implements PerplexityEvaluator {

    /** Framework property: the folder relative paths resolve against (as the core's models.dir). */
    static final String HOME_PROPERTY = "loadstone.home";

    private static final Logger LOG = System.getLogger(PerplexityService.class.getName());

    private final ModelManager manager;
    private final Path home;
    private volatile Datasets datasets;
    private volatile EvaluationLog log;
    private volatile LoadMemory loads;

    /** A short original text (written for Loadstone, no third-party text) so the menu is never empty. */
    static final String SAMPLE = "datasets/loadstone-story.txt";

    @Activate
    public PerplexityService(@Reference ModelManager manager, BundleContext context, EvaluationConfig config) {
        this(manager, home(context.getProperty(HOME_PROPERTY)), config.datasets_dir(), config.logs_dir());
        placeSample();
    }

    /**
     * Creates the datasets folder with the sample text the first time only (when the folder
     * does not exist yet), so a user who deletes the sample does not get it back.
     */
    private void placeSample() {
        Path dir = datasets.dir();
        if (Files.exists(dir)) {
            return;
        }
        try (InputStream in = PerplexityService.class.getClassLoader().getResourceAsStream(SAMPLE)) {
            if (in != null) {
                Files.createDirectories(dir);
                Files.copy(in, dir.resolve(Path.of(SAMPLE).getFileName()));
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Could not place the sample dataset in " + dir + ": " + e);
        }
    }

    /** For tests: folders given directly. */
    PerplexityService(ModelManager manager, Path home, String datasetsDir, String logsDir) {
        this.manager = manager;
        this.home = home;
        configure(datasetsDir, logsDir);
    }

    @Modified
    void modified(EvaluationConfig config) {
        configure(config.datasets_dir(), config.logs_dir());
    }

    private void configure(String datasetsDir, String logsDir) {
        datasets = new Datasets(home.resolve(datasetsDir).toAbsolutePath().normalize());
        Path logs = home.resolve(logsDir).toAbsolutePath().normalize();
        log = new EvaluationLog(logs.resolve("evaluations.csv"));
        loads = new LoadMemory(logs.resolve("evaluation-loads.csv"));
    }

    private static Path home(String h) {
        return (h == null || h.isBlank() ? Paths.get("") : Paths.get(h)).toAbsolutePath().normalize();
    }

    @Override
    public Path datasetsDir() {
        return datasets.dir();
    }

    @Override
    public Path logFile() {
        return log.file();
    }

    @Override
    public List<String> datasets() {
        return datasets.list();
    }

    @Override
    public List<EvaluationResult> history() {
        try {
            return log.read();
        } catch (ModelLoadException e) {
            return List.of();
        }
    }

    @Override
    public EvaluationResult evaluate(EvaluationRequest request, EvaluationProgress progress)
            throws ModelLoadException {
        if (request == null) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, null,
                    "No evaluation request.", "Give a dataset or a text.", null);
        }
        Datasets ds = datasets;
        EvaluationLog lg = log;
        PerplexityMethod method = request.method() == null ? PerplexityMethod.WINDOWS : request.method();
        if (method == PerplexityMethod.WINDOWS && request.stride() < 1) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "stride",
                    "stride must be at least 1, not " + request.stride() + ".",
                    "Use 512 (text-generation-webui's default), or 1 for the slowest and most accurate result.", null);
        }
        if (request.maxLength() < 0) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "max_length",
                    "max_length must be 0 (the model's context length) or positive, not "
                    + request.maxLength() + ".", "", null);
        }
        boolean hasDataset = request.dataset() != null && !request.dataset().isBlank();
        boolean hasText = request.text() != null && !request.text().isEmpty();
        if (hasDataset == hasText) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "dataset",
                    hasText ? "Both a dataset and a text were given."
                    : "Neither a dataset nor a text was given.", "Give exactly one: the name of a .txt file in "
                            + ds.dir() + ", or the text itself.", null);
        }
        String dataset = hasDataset ? ds.canonicalName(request.dataset()) : "pasted:" + sha12(request.text());
        String text = hasDataset ? ds.read(request.dataset()) : request.text();

        String name = request.model() == null || request.model().isBlank() ? null : request.model().strip();
        LoadMemory lm = loads;
        String loadedWith = null;
        if (name != null && manager.loaded(name).isEmpty()) {
            ModelSettings settings = settingsToLoad(name);
            String settingsText = compact(settings.options());
            if (!request.force()) {
                Optional<EvaluationResult> logged = loggedBeforeLoading(lg, lm, settings, settingsText, dataset,
                        method, request);
                if (logged.isPresent()) {
                    return logged.get();
                }
            }
            if (progress != null && !progress.loading(name, settings.loader())) {
                throw new ModelLoadException("The evaluation was cancelled before loading '" + name + "'.", "");
            }
            manager.load(name, settings.loader(), settings.options());
            loadedWith = settingsText;
        }
        ModelLogits model = manager.logits(name);
        int ctx = model.contextLength();
        int maxLength = request.maxLength() == 0 ? ctx : request.maxLength();
        if (maxLength <= 0) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "max_length",
                    "The " + model.loaderId() + " loader reports no context length for '"
                    + model.model() + "'.", "Give max_length explicitly.", null);
        }
        if (ctx > 0 && maxLength > ctx) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "max_length",
                    "max_length " + maxLength + " is more than the context length " + ctx
                    + " of this load of '" + model.model() + "'.", "Use max_length " + ctx + " or less (0 = the "
                            + "context length), or reload the model with a larger context (n_ctx / max_seq_len).",
                            null);
        }
        if (maxLength < 2) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "max_length",
                    "max_length must be at least 2 (one token predicts the next).", "", null);
        }
        if (method == PerplexityMethod.CHUNKS && maxLength < 3) {
            // n_ctx - 1 - n_ctx/2 tokens are scored per chunk: none below 3.
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "max_length",
                    "llama.cpp's method scores nothing with max_length " + maxLength + ".",
                    "Use max_length 3 or more (llama.cpp's perplexity tool uses 512 by default).", null);
        }
        long logitsBytes = (long) maxLength * Math.max(1, model.vocabSize()) * Float.BYTES;
        if (logitsBytes > Runtime.getRuntime().maxMemory() / 2) {
            // Every window's logits come back as one float[max_length][vocab] (as the HF loss
            // computes them); with a 128k vocabulary and an 8k window that is 4 GB.
            throw new ModelLoadException(ModelLoadException.Reason.TOO_LARGE, "max_length",
                    "A window of " + maxLength + " tokens needs " + logitsBytes / (1 << 20)
                    + " MB of logits (" + model.vocabSize() + " per token), more than half of the Java heap ("
                    + Runtime.getRuntime().maxMemory() / (1 << 20) + " MB).", "Use a smaller max_length (at most "
                            + Runtime.getRuntime().maxMemory() / 2 / ((long) Math.max(1, model.vocabSize())
                                    * Float.BYTES) + "), or start Loadstone with a larger -Xmx.", null);
        }
        int stride = method == PerplexityMethod.CHUNKS ? maxLength : request.stride();
        String options = compact(withLoras(model.options(), manager.loras(model.model())));
        String comment = request.comment() == null ? "" : request.comment();
        if (loadedWith != null) {
            lm.remember(model.model(), model.loaderId(), loadedWith, new LoadMemory.Load(options, ctx));
        }

        if (!request.force()) {
            Optional<EvaluationResult> logged = lg.find(model.model(), model.loaderId(), options, dataset, method,
                    stride, maxLength);
            if (logged.isPresent()) {
                return logged.get();
            }
        }

        long t0 = System.nanoTime();
        int[] tokens = model.tokenize(text, true);
        if (tokens.length < 2) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "text",
                    "The text is " + tokens.length + " token(s) long; perplexity needs at "
                    + "least 2 (one to predict from, one to predict).", "Use a longer text.", null);
        }
        Windows windows;
        if (method == PerplexityMethod.CHUNKS) {
            if (tokens.length < 2 * maxLength) {
                // llama.cpp's perplexity tool refuses the same way ("you need at least 2*n_ctx tokens").
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "text",
                        "The text is " + tokens.length + " tokens long; llama.cpp's method "
                        + "needs at least 2 x max_length = " + 2 * maxLength + ".", "Use a longer text, a "
                                + "smaller max_length (at most " + tokens.length / 2 + "), or the windows method.",
                                null);
            }
            int[] bos = model.tokenize("", true);
            windows = Windows.chunks(tokens.length, maxLength, bos.length >= 1 ? bos[0] : -1);
        } else {
            windows = Windows.sliding(tokens.length, stride, maxLength);
        }
        PerplexityMath.Outcome outcome = PerplexityMath.run(model, tokens, windows, method, progress);
        double seconds = (System.nanoTime() - t0) / 1e9;
        EvaluationResult result = new EvaluationResult(model.model(), model.loaderId(), options, dataset, stride,
                maxLength, method, outcome.perplexity(), tokens.length, outcome.windows(), outcome.scoredTokens(),
                seconds, Instant.now(), comment, false);
        lg.append(result);
        return result;
    }

    /**
     * The settings a model that is not loaded is loaded with (as the model menu shows them),
     * refused before loading when no installed loader fits it or the one chosen exposes no logits.
     */
    private ModelSettings settingsToLoad(String name) throws ModelLoadException {
        ModelSettings settings = manager.settings(name); // "There is no model named ..." with the list
        if (settings.loader() == null) {
            String hint = manager.models().stream().filter(e -> e.name().equals(settings.model())).findFirst()
                    .map(e -> e.hint()).orElse("");
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "models",
                    "No installed loader can load '" + name + "', so it cannot be evaluated.",
                    hint.isEmpty() ? "Install a loader bundle that accepts it (Plugins tab)." : hint, null);
        }
        boolean logits = manager.loaders().stream().filter(l -> l.id().equals(settings.loader())).findFirst()
                .map(l -> l.capabilities().logits()).orElse(false);
        if (!logits) {
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, "loader",
                    "The " + settings.loader() + " loader (the one '" + name + "' would be "
                    + "loaded with) exposes no logits, so '" + name + "' cannot be evaluated.", "Save another loader"
                            + " for it on the Model tab (llama.cpp, llamacpp_HF or Transformers), then evaluate again.",
                            null);
        }
        return settings;
    }

    /**
     * The logged result for a model that is not loaded, found without loading it: the load these
     * settings gave last time tells the effective options and context the log is keyed by.
     */
    private static Optional<EvaluationResult> loggedBeforeLoading(EvaluationLog lg, LoadMemory lm,
            ModelSettings settings, String settingsText, String dataset, PerplexityMethod method,
            EvaluationRequest request) throws ModelLoadException {
        Optional<LoadMemory.Load> known = lm.find(settings.model(), settings.loader(), settingsText);
        if (known.isEmpty()) {
            return Optional.empty();
        }
        int maxLength = request.maxLength() == 0 ? known.get().contextLength() : request.maxLength();
        int stride = method == PerplexityMethod.CHUNKS ? maxLength : request.stride();
        return lg.find(settings.model(), settings.loader(), known.get().options(), dataset, method, stride,
                maxLength);
    }

    /**
     * The load's options plus the LoRA adapters applied now ({@code loras=name@scale+...}, in
     * order), so that a result with adapters is never answered from a row without them (the
     * column text-generation-webui's log keeps separately as "LoRAs").
     */
    static Map<String, Object> withLoras(Map<String, Object> options, List<io.loadstone.api.loader.LoraAdapter> loras) {
        if (loras.isEmpty()) {
            return options;
        }
        Map<String, Object> out = new TreeMap<>(options);
        out.put("loras", loras.stream().map(a -> a.name() + "@" + a.scale())
                .collect(java.util.stream.Collectors.joining("+")));
        return out;
    }

    /** The effective options as "k=v, k=v", sorted by key so the same load always gives the same text. */
    static String compact(Map<String, Object> options) {
        return new TreeMap<>(options).entrySet().stream().map(e -> e.getKey() + "=" + String.valueOf(e.getValue()))
                .collect(Collectors.joining(", "));
    }

    static String sha12(String text) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d).substring(0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
