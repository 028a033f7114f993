package io.loadstone.engine.llama;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.engine.LinearFormat;
import io.loadstone.engine.LinearWeights;
import io.loadstone.engine.ModelConfig;
import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.safetensors.Checkpoint;
import io.loadstone.engine.safetensors.TensorInfo;
import io.loadstone.engine.safetensors.TensorView;
import io.loadstone.engine.tensor.ExternalMatrix;
import io.loadstone.engine.tensor.Matrix;
import io.loadstone.engine.tensor.StoredMatrix;
import io.loadstone.engine.tensor.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The tensors of a Llama-family checkpoint (Hugging Face names), checked against the config:
 * every needed tensor present, each with the expected shape and a float type. Problems are
 * collected and reported together so one message lists everything that is missing.
 */
final class LlamaWeights {

    record Layer(float[] attnNorm, Matrix q, Matrix k, Matrix v, Matrix o, float[] qBias, float[] kBias, float[] vBias,
            float[] ffnNorm, Matrix gate, Matrix up, Matrix down) {

        /** The linear layers' module names within a decoder layer, in the order of {@link #linears()}. */
        static final List<String> LINEARS = List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");

        List<Matrix> linears() {
            return List.of(q, k, v, o, gate, up, down);
        }

        /** This layer with its linear matrices replaced ({@code m} in the order of {@link #LINEARS}). */
        Layer withLinears(Matrix[] m) {
            return new Layer(attnNorm, m[0], m[1], m[2], m[3], qBias, kBias, vBias, ffnNorm, m[4], m[5], m[6]);
        }
    }

    final Matrix embed;
    /** The layers the forward pass reads: the base ones, or with LoRA wrappers (swapped under the model's write lock). */
    final Layer[] layers;
    /** The layers as bound from the checkpoint, never wrapped. */
    final Layer[] baseLayers;
    final float[] finalNorm;
    final Matrix lmHead;
    final String weightType;
    final long parameterCount;

    private LlamaWeights(Matrix embed, Layer[] layers, float[] finalNorm, Matrix lmHead, String weightType, long parameterCount) {
        this.embed = embed;
        this.layers = layers;
        this.baseLayers = layers.clone();
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.weightType = weightType;
        this.parameterCount = parameterCount;
    }

    /**
     * @param linear turns each stored projection matrix into the matrix used for compute (the
     *               identity, or a load-time quantizer)
     */
    static LlamaWeights bind(ModelConfig c, Checkpoint ck, LinearFormat format, UnaryOperator<Matrix> linear)
            throws ModelLoadException {
        return bind(c, ck, format, linear, UnaryOperator.identity(), UnaryOperator.identity());
    }

    /**
     * Refuses a config.json whose num_hidden_layers disagrees with the layers the checkpoint
     * holds, before anything is allocated per layer: a config claiming 10^7 layers would
     * otherwise have the binder collect 10^8 missing-tensor names (gigabytes of heap).
     */
    static void checkLayerCount(ModelConfig c, Checkpoint ck) throws ModelFileException {
        int stored = 0;
        for (String name : ck.tensors().keySet()) {
            if (name.startsWith("model.layers.")) {
                int end = name.indexOf('.', "model.layers.".length());
                try {
                    stored = Math.max(stored, Integer.parseInt(name.substring("model.layers.".length(), end)) + 1);
                } catch (NumberFormatException | IndexOutOfBoundsException e) {
                    // not a layer tensor name; the binder reports what is missing
                }
            }
        }
        if (c.numLayers() > stored) {
            throw new ModelFileException(ck.folder().resolve("config.json"), "num_hidden_layers is " + c.numLayers()
                    + " but the checkpoint holds " + (stored == 0 ? "no layers" : "layers 0 to " + (stored - 1))
                    + " (files: " + ck.files().stream().map(f -> f.getFileName().toString()).toList() + ")",
                    "config.json and the weights are from different models, or the download is incomplete: "
                            + "download them together.");
        }
    }

    /**
     * @param table  turns the stored embedding (and an untied lm_head) into the matrix used
     * @param vector turns each stored norm weight or bias, as floats, into the values used
     */
    static LlamaWeights bind(ModelConfig c, Checkpoint ck, LinearFormat format, UnaryOperator<Matrix> linear,
            UnaryOperator<Matrix> table, UnaryOperator<float[]> vector) throws ModelLoadException {
        Binder b = new Binder(c, ck, format);
        int d = c.hiddenSize();
        int qd = c.numHeads() * c.headDim();
        int kvd = c.numKvHeads() * c.headDim();
        int ff = c.intermediateSize();
        checkLayerCount(c, ck);
        TensorInfo embed = b.need("model.embed_tokens.weight", c.vocabSize(), d);
        Object[][] raw = new Object[c.numLayers()][];
        for (int l = 0; l < c.numLayers(); l++) {
            String p = "model.layers." + l + ".";
            raw[l] = new Object[] {
                b.need(p + "input_layernorm.weight", d),
                b.linear(p + "self_attn.q_proj", qd, d),
                b.linear(p + "self_attn.k_proj", kvd, d),
                b.linear(p + "self_attn.v_proj", kvd, d),
                b.linear(p + "self_attn.o_proj", d, qd),
                c.attentionBias() ? b.need(p + "self_attn.q_proj.bias", qd) : null,
                c.attentionBias() ? b.need(p + "self_attn.k_proj.bias", kvd) : null,
                c.attentionBias() ? b.need(p + "self_attn.v_proj.bias", kvd) : null,
                b.need(p + "post_attention_layernorm.weight", d),
                b.linear(p + "mlp.gate_proj", ff, d),
                b.linear(p + "mlp.up_proj", ff, d),
                b.linear(p + "mlp.down_proj", d, ff),
            };
        }
        TensorInfo norm = b.need("model.norm.weight", d);
        TensorInfo head = null;
        if (!c.tieWordEmbeddings()) {
            // Tied models use the embedding as lm_head, as transformers' tie_weights() does, even
            // when an export also stores a copy of it.
            head = b.need("lm_head.weight", c.vocabSize(), d);
        }
        b.throwIfProblems();

        Set<String> types = new LinkedHashSet<>();
        long params = embed.elements() + norm.elements() + (head == null ? 0 : head.elements());
        Layer[] layers = new Layer[c.numLayers()];
        for (int l = 0; l < c.numLayers(); l++) {
            Object[] t = raw[l];
            Matrix[] m = new Matrix[12];
            for (int i : new int[] {1, 2, 3, 4, 9, 10, 11}) {
                Matrix stored = t[i] instanceof TensorInfo ti ? new StoredMatrix(ti) : (Matrix) t[i];
                types.add(stored.type());
                params += (long) stored.rows() * stored.cols();
                m[i] = stored instanceof StoredMatrix ? linear.apply(stored) : stored;
            }
            for (int i : new int[] {0, 5, 6, 7, 8}) {
                if (t[i] != null) {
                    params += ((TensorInfo) t[i]).elements();
                }
            }
            layers[l] = new Layer(floats(t[0], vector), m[1], m[2], m[3], m[4], floats(t[5], vector), floats(t[6], vector),
                    floats(t[7], vector), floats(t[8], vector), m[9], m[10], m[11]);
        }
        Matrix embedding = table.apply(new StoredMatrix(embed));
        Matrix lmHead = head == null ? embedding : table.apply(new StoredMatrix(head));
        String weightType = types.size() == 1 ? types.iterator().next() : "mixed " + types;
        return new LlamaWeights(embedding, layers, vector.apply(Tensors.toFloats(norm)), lmHead, weightType, params);
    }

    private static float[] floats(Object t, UnaryOperator<float[]> vector) {
        return t == null ? null : vector.apply(Tensors.toFloats((TensorInfo) t));
    }

    /** Bytes of weight data the forward pass reads (each matrix once, even when tied). */
    long byteSize() {
        long n = embed.byteSize() + (lmHead == embed ? 0 : lmHead.byteSize());
        for (Layer l : layers) {
            for (Matrix m : List.of(l.q(), l.k(), l.v(), l.o(), l.gate(), l.up(), l.down())) {
                n += m.byteSize();
            }
        }
        return n;
    }

    /** Looks tensors up and collects every problem before failing. */
    private static final class Binder {
        private final ModelConfig c;
        private final Checkpoint ck;
        private final LinearFormat format;
        private final List<String> missing = new ArrayList<>();
        private ModelFileException firstBad;

        Binder(ModelConfig c, Checkpoint ck, LinearFormat format) {
            this.c = c;
            this.ck = ck;
            this.format = format;
        }

        /** A projection: from the loader's format if it has one for this layer, else {@code prefix.weight}. */
        Object linear(String prefix, int rows, int cols) throws ModelLoadException {
            if (format != null) {
                LinearWeights w = format.load(prefix, rows, cols, name -> ck.find(name).map(TensorView::new));
                if (w != null) {
                    if (w.rows() != rows || w.cols() != cols) {
                        throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, null,
                                "The " + format.name() + " format gave " + prefix + " as " + w.rows() + " x "
                                + w.cols() + " weights, but config.json requires " + rows + " x " + cols + ".",
                                "Report this to the loader's authors.", null);
                    }
                    // The engine's own packed layouts are matrices already (with batched kernels).
                    return w instanceof Matrix m ? m : new ExternalMatrix(prefix, format.name().toUpperCase(java.util.Locale.ROOT), w);
                }
            }
            return need(prefix + ".weight", rows, cols);
        }

        TensorInfo need(String name, long... shape) {
            TensorInfo t = ck.tensors().get(name);
            if (t == null) {
                missing.add(name);
                return null;
            }
            if (firstBad == null) {
                if (!StoredMatrix.supports(t.dtype())) {
                    firstBad = new ModelFileException(t.file(), "tensor '" + name + "' has dtype " + t.dtype()
                            + "; the engine computes with F32, F16 or BF16 weights",
                            "Use an unquantized (F32/F16/BF16) checkpoint, or the loader for its quantization format.");
                } else if (!Arrays.equals(t.shape(), shape)) {
                    firstBad = new ModelFileException(t.file(), "tensor '" + name + "' has shape " + t.shapeString() + " but config.json ("
                            + c.modelType() + ", hidden_size " + c.hiddenSize() + ", " + c.numHeads() + "/" + c.numKvHeads()
                            + " heads of " + c.headDim() + ", intermediate_size " + c.intermediateSize() + ", vocab_size "
                            + c.vocabSize() + ") requires " + Arrays.toString(shape),
                            "The weights and config.json are from different models; download them together.");
                }
            }
            return t;
        }

        void throwIfProblems() throws ModelFileException {
            if (!missing.isEmpty()) {
                String list = String.join(", ", missing.subList(0, Math.min(8, missing.size())))
                        + (missing.size() > 8 ? ", … (" + missing.size() + " in all)" : "");
                throw new ModelFileException(ck.folder(), "the checkpoint lacks " + missing.size() + " tensor(s) the "
                        + c.modelType() + " architecture needs: " + list + " (files: "
                        + ck.files().stream().map(p -> p.getFileName().toString()).toList() + ")",
                        "Download every weight file of the model (and its index, if sharded).");
            }
            if (firstBad != null) {
                throw firstBad;
            }
        }
    }
}
