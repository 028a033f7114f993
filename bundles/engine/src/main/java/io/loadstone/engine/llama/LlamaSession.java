package io.loadstone.engine.llama;

import io.loadstone.engine.EngineSession;
import io.loadstone.engine.ModelConfig;
import io.loadstone.engine.kernel.ComputePool;
import io.loadstone.engine.kernel.Ops;
import io.loadstone.engine.tensor.KvCache;
import io.loadstone.engine.tensor.Matrix;

/**
 * The Llama forward pass over a KV cache. Prompt tokens go through in batches of
 * {@code batchSize}, so every weight matrix is streamed once per batch rather than once per
 * token; generation is the same code with a batch of one.
 *
 * <p>Per layer (Hugging Face LlamaDecoderLayer):
 * <pre>
 *   h = x + o_proj(attention(rope(q_proj(n)), rope(k_proj(n)), v_proj(n)))   with n = RMSNorm(x)
 *   x = h + down_proj(silu(gate_proj(m)) · up_proj(m))                          with m = RMSNorm(h)
 * </pre>
 * then the final RMSNorm and lm_head.
 */
final class LlamaSession implements EngineSession {

    private final LlamaModel model;
    private final ModelConfig c;
    private final LlamaWeights w;
    private final ComputePool pool;
    private final KvCache cache;
    private final int maxContext;
    private final int batch;
    private int position;
    private boolean closed;
    /** The model's adapter set the cached positions were computed under. */
    private int loraEpoch;

    // Activations for one batch, [token][feature] row-major.
    private final float[] x;
    private final float[] xb;
    private final float[] xb2;
    private final float[] q;
    private final float[] k;
    private final float[] v;
    private final float[] att;
    private final float[] gate;
    private final float[] up;
    private final float[] cos;
    private final float[] sin;

    LlamaSession(LlamaModel model) {
        this.model = model;
        this.c = model.config();
        this.w = model.weights;
        this.pool = model.pool;
        this.maxContext = model.maxContext();
        this.batch = model.options().batchSize();
        this.cache = new KvCache(c.numLayers(), c.numKvHeads(), c.headDim(), maxContext, model.options().kvCache());
        if (model.options().preallocateKv()) {
            cache.ensureCapacity(maxContext);
        }
        int qd = c.numHeads() * c.headDim();
        int kvd = c.numKvHeads() * c.headDim();
        x = new float[batch * c.hiddenSize()];
        xb = new float[batch * c.hiddenSize()];
        xb2 = new float[batch * c.hiddenSize()];
        q = new float[batch * qd];
        att = new float[batch * qd];
        k = new float[batch * kvd];
        v = new float[batch * kvd];
        gate = new float[batch * c.intermediateSize()];
        up = new float[batch * c.intermediateSize()];
        cos = new float[batch * c.headDim() / 2];
        sin = new float[batch * c.headDim() / 2];
    }

    @Override
    public int position() {
        return position;
    }

    @Override
    public int maxContext() {
        return maxContext;
    }

    @Override
    public int vocabSize() {
        return c.vocabSize();
    }

    @Override
    public float[] forward(int[] tokens) {
        return run(tokens, false)[0];
    }

    @Override
    public float[][] forwardAll(int[] tokens) {
        return run(tokens, true);
    }

    @Override
    public void truncate(int newPosition) {
        if (newPosition < 0 || newPosition > position) {
            throw new IllegalArgumentException("truncate(" + newPosition + "): the session holds " + position + " positions");
        }
        position = newPosition;
    }

    @Override
    public void reset() {
        position = 0;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            cache.close();
            model.forget(this);
        }
    }

    private float[][] run(int[] tokens, boolean allPositions) {
        if (closed) {
            throw new IllegalStateException("The session is closed");
        }
        if (tokens.length == 0) {
            throw new IllegalArgumentException("forward needs at least one token");
        }
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= c.vocabSize()) {
                throw new IllegalArgumentException("token id " + tokens[i] + " at index " + i + " is outside the vocabulary [0, "
                        + c.vocabSize() + ")");
            }
        }
        if ((long) position + tokens.length > maxContext) {
            throw new IllegalArgumentException("context full: " + position + " positions + " + tokens.length + " new tokens exceed "
                    + "the limit of " + maxContext + "; reset() or truncate() the session, or open the model with a larger maxContext");
        }
        model.lifecycle.readLock().lock();
        try {
            model.checkOpen();
            if (position == 0) {
                loraEpoch = model.loraEpoch;
            } else if (loraEpoch != model.loraEpoch) {
                throw new IllegalStateException("The LoRA adapters changed since this session's " + position + " cached positions "
                        + "were computed; reset() the session (or open a new one) to continue under the new adapters");
            }
            cache.ensureCapacity(position + tokens.length);
            float[][] out = new float[allPositions ? tokens.length : 1][];
            for (int s = 0; s < tokens.length; s += batch) {
                int n = Math.min(batch, tokens.length - s);
                boolean lastBatch = s + n == tokens.length;
                batch(tokens, s, n);
                if (allPositions) {
                    logits(0, n, out, s);
                } else if (lastBatch) {
                    logits(n - 1, 1, out, 0);
                }
            }
            return out;
        } finally {
            model.lifecycle.readLock().unlock();
        }
    }

    /** Runs tokens {@code [s, s+n)} through every layer; leaves the final hidden states in {@code x}. */
    private void batch(int[] tokens, int s, int n) {
        int d = c.hiddenSize();
        int hd = c.headDim();
        int heads = c.numHeads();
        int kvHeads = c.numKvHeads();
        int qd = heads * hd;
        int kvd = kvHeads * hd;
        int ff = c.intermediateSize();
        int half = hd / 2;
        float eps = (float) c.rmsNormEps();
        float scale = (float) (1.0 / Math.sqrt(hd));
        int group = heads / kvHeads;
        int pos0 = position;

        for (int t = 0; t < n; t++) {
            w.embed.row(tokens[s + t], x, t * d);
            model.rope.angles(pos0 + t, cos, sin, t * half);
        }
        for (int l = 0; l < w.layers.length; l++) {
            LlamaWeights.Layer L = w.layers[l];
            for (int t = 0; t < n; t++) {
                Ops.rmsNorm(x, t * d, L.attnNorm(), eps, xb, t * d, d);
            }
            Matrix.multiplyAll(pool, xb, d, n, new Matrix[] {L.q(), L.k(), L.v()}, new float[][] {q, k, v},
                    new int[] {qd, kvd, kvd});
            for (int t = 0; t < n; t++) {
                if (L.qBias() != null) {
                    Ops.add(q, t * qd, L.qBias(), 0, qd);
                    Ops.add(k, t * kvd, L.kBias(), 0, kvd);
                    Ops.add(v, t * kvd, L.vBias(), 0, kvd);
                }
                model.rope.apply(q, t * qd, heads, cos, sin, t * half);
                model.rope.apply(k, t * kvd, kvHeads, cos, sin, t * half);
                cache.store(l, pos0 + t, k, t * kvd, v, t * kvd);
            }
            int layer = l;
            // One task per (token, kv head): the query heads of a GQA group read its keys and
            // values together.
            pool.parallelFor(n * kvHeads, 1, (from, to) -> {
                float[] scores = new float[group * (pos0 + n)];
                for (int i = from; i < to; i++) {
                    int t = i / kvHeads;
                    int kh = i % kvHeads;
                    int p = pos0 + t;
                    int start = c.slidingWindow() > 0 ? Math.max(0, p - c.slidingWindow() + 1) : 0;
                    int qo = t * qd + kh * group * hd;
                    cache.attend(layer, kh, group, q, qo, start, p + 1, scale, scores, att, qo);
                }
            });
            L.o().multiply(pool, att, qd, n, xb2, d);
            Ops.add(x, 0, xb2, 0, n * d);

            for (int t = 0; t < n; t++) {
                Ops.rmsNorm(x, t * d, L.ffnNorm(), eps, xb, t * d, d);
            }
            Matrix.multiplyAll(pool, xb, d, n, new Matrix[] {L.gate(), L.up()}, new float[][] {gate, up}, new int[] {ff, ff});
            Ops.siluMul(gate, 0, up, 0, n * ff);
            L.down().multiply(pool, gate, ff, n, xb2, d);
            Ops.add(x, 0, xb2, 0, n * d);
        }
        position = pos0 + n;
    }

    /** Final norm and lm_head for batch rows {@code [t0, t0+count)} into {@code out[o...]}. */
    private void logits(int t0, int count, float[][] out, int o) {
        int d = c.hiddenSize();
        int vocab = c.vocabSize();
        for (int t = 0; t < count; t++) {
            Ops.rmsNorm(x, (t0 + t) * d, w.finalNorm, (float) c.rmsNormEps(), xb, t * d, d);
        }
        Matrix head = w.lmHead;
        float[] flat = new float[count * vocab];
        head.multiply(pool, xb, d, count, flat, vocab);
        for (int t = 0; t < count; t++) {
            out[o + t] = java.util.Arrays.copyOfRange(flat, t * vocab, (t + 1) * vocab);
        }
    }
}
