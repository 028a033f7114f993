package io.loadstone.engine.llama;

import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.engine.EngineModel;
import io.loadstone.engine.EngineOptions;
import io.loadstone.engine.EngineSession;
import io.loadstone.engine.LinearFormat;
import io.loadstone.engine.ModelConfig;
import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.WeightPlacement;
import io.loadstone.engine.kernel.ComputePool;
import io.loadstone.engine.lora.PeftAdapter;
import io.loadstone.engine.quant.QuantFormats;
import io.loadstone.engine.quant.QuantizationConfig;
import io.loadstone.engine.safetensors.Checkpoint;
import io.loadstone.engine.tensor.LoraMatrix;
import io.loadstone.engine.tensor.Matrix;
import io.loadstone.engine.tensor.Quantizer;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.UnaryOperator;

/**
 * A Llama-family model (llama, mistral, qwen2): owns the mapped checkpoint (its arena), the
 * bound weights and the compute pool.
 */
public final class LlamaModel implements EngineModel {

    private static final System.Logger LOG = System.getLogger(LlamaModel.class.getName());

    private final Path folder;
    private final ModelConfig config;
    private final EngineOptions options;
    private final Arena arena;
    private final Checkpoint checkpoint;
    final LlamaWeights weights;
    final Rope rope;
    final ComputePool pool;
    private final WeightPlacement placement;
    private final int maxContext;
    /** Forward passes hold the read lock; close() takes the write lock, so it never unmaps under a running pass. */
    final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private boolean closed;
    /** The adapters applied now; written under the write lock. */
    private volatile List<LoraAdapter> loras = List.of();
    /** Counts adapter changes, so a session never continues a KV cache filled under other adapters. */
    int loraEpoch;
    /** Open sessions, closed with the model so that their off-heap KV caches never outlive it. */
    private final Set<LlamaSession> sessions = ConcurrentHashMap.newKeySet();

    private LlamaModel(Path folder, ModelConfig config, EngineOptions options, Arena arena, Checkpoint checkpoint,
            LlamaWeights weights, Rope rope, int maxContext, ComputePool pool, WeightPlacement placement) {
        this.folder = folder;
        this.config = config;
        this.options = options;
        this.arena = arena;
        this.checkpoint = checkpoint;
        this.weights = weights;
        this.rope = rope;
        this.maxContext = maxContext;
        this.pool = pool;
        this.placement = placement;
    }

    public static LlamaModel open(Path folder, EngineOptions options) throws ModelLoadException {
        if (!Files.isDirectory(folder)) {
            throw new ModelFileException(folder, Files.exists(folder) ? "is not a folder" : "does not exist",
                    "Give the folder that holds config.json and the .safetensors files.");
        }
        long t0 = System.nanoTime();
        // No format named: a quantized folder says its own (quantize_config.json, quant_config.json
        // or config.json quantization_config), so loaders only open the folder.
        LinearFormat format = options.linearFormat();
        if (format == null) {
            Optional<QuantizationConfig> q = QuantizationConfig.read(folder);
            if (q.isPresent()) {
                format = QuantFormats.of(q.get());
            }
        }
        LlamaConfig lc = LlamaConfig.read(folder, format != null);
        ModelConfig c = lc.model();
        RopeSpec ropeSpec = effectiveRope(lc.rope(), c.headDim(), options);
        int maxContext = options.maxContext() > 0 ? options.maxContext()
                : (int) Math.min(Integer.MAX_VALUE, Math.round(c.maxPositionEmbeddings() * Math.max(1.0, options.compressPosEmb())));
        Arena arena = Arena.ofShared();
        ComputePool pool = null;
        try {
            Checkpoint ck = Checkpoint.open(folder, arena);
            pool = new ComputePool(options.threads(), "loadstone-engine-" + folder.getFileName());
            ComputePool p = pool;
            Placement placement = new Placement(options.memoryBudget(), options.quantization(), options.bf16Weights(), arena, p);
            LlamaWeights w = options.bf16Weights()
                    ? LlamaWeights.bind(c, ck, format, placement, m -> Quantizer.bf16(m, arena, p), LlamaModel::roundToBf16)
                    : LlamaWeights.bind(c, ck, format, placement);
            ModelConfig full = new ModelConfig(c.modelType(), c.architecture(), c.hiddenSize(), c.intermediateSize(), c.numLayers(),
                    c.numHeads(), c.numKvHeads(), c.headDim(), c.vocabSize(), c.maxPositionEmbeddings(), c.rmsNormEps(),
                    c.ropeTheta(), c.ropeScaling(), c.tieWordEmbeddings(), c.attentionBias(), c.slidingWindow(), c.bosTokenId(),
                    c.eosTokenIds(), w.weightType, w.parameterCount);
            LlamaModel m = new LlamaModel(folder, full, options, arena, ck, w, new Rope(c.headDim(), ropeSpec), maxContext, pool,
                    placement.result());
            LOG.log(Level.INFO, () -> String.format("Opened %s (%s, %d layers, %s weights%s, %.1f MB) in %d ms; RoPE base %.1f, scaling %s; %d threads",
                    folder, full.modelType(), full.numLayers(), full.weightType(),
                    options.quantization() == io.loadstone.engine.WeightQuantization.NONE ? (options.bf16Weights() ? " → BF16" : "")
                            : " → " + options.quantization(),
                    m.weightBytes() / 1e6, (System.nanoTime() - t0) / 1_000_000, ropeSpec.base(), ropeSpec.describe(), options.threads()));
            if (maxContext > c.maxPositionEmbeddings() * Math.max(1.0, options.compressPosEmb())) {
                LOG.log(Level.WARNING, "Context limit {0} exceeds what {1} was trained for ({2} positions); output may degrade "
                        + "past that without RoPE scaling.", maxContext, folder.getFileName(), c.maxPositionEmbeddings());
            }
            return m;
        } catch (ModelLoadException | RuntimeException | Error e) {
            if (pool != null) {
                pool.close();
            }
            arena.close();
            throw e;
        }
    }

    /**
     * Combines the config's RoPE with the user's overrides, as text-generation-webui defines them:
     * {@code rope_freq_base} replaces the base outright; otherwise {@code alpha_value} scales it
     * NTK-style to {@code base·α^(d/(d-2))}; {@code compress_pos_emb} replaces the config's scaling
     * with linear scaling by that factor.
     */
    /** A norm weight or bias as a bfloat16 checkpoint would hold it (computed in float32 all the same). */
    private static float[] roundToBf16(float[] v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = io.loadstone.engine.kernel.Vectors.bf16ToFloat(io.loadstone.engine.kernel.Vectors.floatToBf16(v[i]));
        }
        return out;
    }

    static RopeSpec effectiveRope(RopeSpec fromConfig, int headDim, EngineOptions o) {
        RopeSpec r = fromConfig;
        if (o.compressPosEmb() != 1.0) {
            r = new RopeSpec(r.base(), "linear", o.compressPosEmb(), 0, 0, 0);
        }
        if (o.ropeFreqBase() > 0) {
            r = r.withBase(o.ropeFreqBase());
        } else if (o.alphaValue() != 1.0) {
            r = r.withBase(r.base() * Math.pow(o.alphaValue(), (double) headDim / (headDim - 2)));
        }
        return r;
    }

    @Override
    public Path folder() {
        return folder;
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public EngineOptions options() {
        return options;
    }

    @Override
    public int maxContext() {
        return maxContext;
    }

    @Override
    public Map<String, String> metadata() {
        return checkpoint.metadata();
    }

    @Override
    public WeightPlacement placement() {
        return placement;
    }

    @Override
    public long weightBytes() {
        return weights.byteSize();
    }

    @Override
    public EngineSession newSession() {
        lifecycle.readLock().lock();
        try {
            checkOpen();
            LlamaSession s = new LlamaSession(this);
            sessions.add(s);
            return s;
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    @Override
    public List<LoraAdapter> loras() {
        return loras;
    }

    /**
     * Reads the adapters (outside the lock, so running passes go on meanwhile), wraps the base
     * linear matrices of the modules they adapt, then swaps the layers in under the write lock:
     * no forward pass sees a half-applied set. A failure leaves the previous set applied.
     */
    @Override
    public void setLoras(List<LoraAdapter> adapters) throws ModelLoadException {
        List<LoraAdapter> list = List.copyOf(adapters);
        LlamaWeights.Layer[] base = weights.baseLayers;
        String describe = folder.getFileName() + " (" + config.modelType() + ", hidden_size " + config.hiddenSize() + ", "
                + config.numLayers() + " layers, intermediate_size " + config.intermediateSize() + ")";
        java.util.function.Function<String, int[]> shapeOf = module -> {
            Matrix m = linear(base, module);
            return m == null ? null : new int[] {m.rows(), m.cols()};
        };
        Map<String, List<LoraMatrix.Factors>> factors = new java.util.LinkedHashMap<>();
        for (LoraAdapter a : list) {
            PeftAdapter read = PeftAdapter.read(a.folder(), shapeOf, describe);
            for (PeftAdapter.Module m : read.modules().values()) {
                factors.computeIfAbsent(m.module(), k -> new java.util.ArrayList<>())
                        .add(new LoraMatrix.Factors(m.rank(), m.a(), m.b(), (float) (m.scaling() * a.scale())));
            }
        }
        LlamaWeights.Layer[] next = new LlamaWeights.Layer[base.length];
        for (int l = 0; l < base.length; l++) {
            List<Matrix> linears = base[l].linears();
            Matrix[] m = new Matrix[linears.size()];
            for (int i = 0; i < m.length; i++) {
                List<LoraMatrix.Factors> f = factors.get("model.layers." + l + "." + LlamaWeights.Layer.LINEARS.get(i));
                m[i] = f == null ? linears.get(i) : new LoraMatrix(linears.get(i), f);
            }
            next[l] = base[l].withLinears(m);
        }
        lifecycle.writeLock().lock();
        try {
            checkOpen();
            System.arraycopy(next, 0, weights.layers, 0, next.length);
            loras = list;
            loraEpoch++;
        } finally {
            lifecycle.writeLock().unlock();
        }
        LOG.log(Level.INFO, () -> "LoRA on " + folder.getFileName() + ": " + (list.isEmpty() ? "none"
                : list.stream().map(a -> a.name() + " at scale " + a.scale()).toList() + ", " + factors.size() + " modules adapted"));
    }

    /** The base linear matrix of {@code model.layers.N.<linear>}, or null. */
    private static Matrix linear(LlamaWeights.Layer[] layers, String module) {
        String prefix = "model.layers.";
        if (!module.startsWith(prefix)) {
            return null;
        }
        int dot = module.indexOf('.', prefix.length());
        if (dot < 0) {
            return null;
        }
        int l;
        try {
            l = Integer.parseInt(module.substring(prefix.length(), dot));
        } catch (NumberFormatException e) {
            return null;
        }
        int i = LlamaWeights.Layer.LINEARS.indexOf(module.substring(dot + 1));
        if (l < 0 || l >= layers.length || i < 0 || !module.substring(prefix.length(), dot).equals(Integer.toString(l))) {
            return null;
        }
        return layers[l].linears().get(i);
    }

    void forget(LlamaSession s) {
        sessions.remove(s);
    }

    /** Call with the lifecycle lock held. */
    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("The model " + folder + " is closed");
        }
    }

    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            for (LlamaSession s : sessions) {
                s.close();
            }
            pool.close();
            arena.close();
        } finally {
            lifecycle.writeLock().unlock();
        }
        LOG.log(Level.DEBUG, "Closed {0}", folder);
    }
}
