package io.loadstone.engine;

import io.loadstone.engine.safetensors.Checkpoint;
import io.loadstone.engine.safetensors.TensorInfo;
import io.loadstone.engine.tensor.Tensors;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Map;

/**
 * An independent, deliberately naive Llama forward pass for tests: double precision, no KV
 * cache, no vectors, no threads, written from the Hugging Face modeling code's definition.
 * Positions are explicit doubles, so "RoPE with positions/2" can be computed directly.
 */
final class ReferenceLlama {

    private final Map<String, Object> cfg;
    private final Map<String, TensorInfo> t;
    final int d;
    final int heads;
    final int kvHeads;
    final int hd;
    final int ff;
    final int layers;
    final int vocab;
    final double eps;
    final boolean tied;

    ReferenceLlama(Path folder, Arena arena) throws Exception {
        cfg = TestModels.json(folder.resolve("config.json"));
        t = Checkpoint.open(folder, arena).tensors();
        d = num("hidden_size");
        heads = num("num_attention_heads");
        kvHeads = num("num_key_value_heads");
        hd = cfg.get("head_dim") instanceof Number n ? n.intValue() : d / heads;
        ff = num("intermediate_size");
        layers = num("num_hidden_layers");
        vocab = num("vocab_size");
        eps = ((Number) cfg.get("rms_norm_eps")).doubleValue();
        tied = Boolean.TRUE.equals(cfg.get("tie_word_embeddings"));
    }

    private int num(String k) {
        return ((Number) cfg.get(k)).intValue();
    }

    private double[] vec(String name) {
        TensorInfo ti = t.get(name);
        if (ti == null) {
            return null;
        }
        float[] f = Tensors.toFloats(ti);
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            out[i] = f[i];
        }
        return out;
    }

    /** y[r] = Σ W[r][c] x[c] (+ b[r]). */
    private static double[] linear(double[] w, double[] b, double[] x, int rows, int cols) {
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = b == null ? 0 : b[r];
            for (int c = 0; c < cols; c++) {
                s += w[r * cols + c] * x[c];
            }
            y[r] = s;
        }
        return y;
    }

    private double[] rmsNorm(double[] x, double[] w) {
        double ss = 0;
        for (double v : x) {
            ss += v * v;
        }
        double inv = 1 / Math.sqrt(ss / x.length + eps);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = w[i] * x[i] * inv;
        }
        return y;
    }

    /** rotate_half RoPE: out = x·cos + [-x2, x1]·sin, angle_i = position / base^(2i/hd). */
    private void rope(double[] v, int nHeads, double position, double base) {
        int half = hd / 2;
        for (int h = 0; h < nHeads; h++) {
            for (int i = 0; i < half; i++) {
                double angle = position / Math.pow(base, 2.0 * i / hd);
                double c = Math.cos(angle);
                double s = Math.sin(angle);
                double x1 = v[h * hd + i];
                double x2 = v[h * hd + half + i];
                v[h * hd + i] = x1 * c - x2 * s;
                v[h * hd + half + i] = x2 * c + x1 * s;
            }
        }
    }

    /** Logits for every position of {@code tokens}, token i at RoPE position {@code positions[i]}. */
    float[][] logits(int[] tokens, double[] positions, double base) {
        return logits(tokens, positions, base, 0);
    }

    /** As above with a sliding attention window: position i sees keys j with i - j < window (0 = all). */
    float[][] logits(int[] tokens, double[] positions, double base, int window) {
        int n = tokens.length;
        double[] embed = vec("model.embed_tokens.weight");
        double[][] x = new double[n][d];
        for (int i = 0; i < n; i++) {
            System.arraycopy(embed, tokens[i] * d, x[i], 0, d);
        }
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            double[] wq = vec(p + "self_attn.q_proj.weight");
            double[] wk = vec(p + "self_attn.k_proj.weight");
            double[] wv = vec(p + "self_attn.v_proj.weight");
            double[] wo = vec(p + "self_attn.o_proj.weight");
            double[] bq = vec(p + "self_attn.q_proj.bias");
            double[] bk = vec(p + "self_attn.k_proj.bias");
            double[] bv = vec(p + "self_attn.v_proj.bias");
            double[][] q = new double[n][];
            double[][] k = new double[n][];
            double[][] v = new double[n][];
            for (int i = 0; i < n; i++) {
                double[] h = rmsNorm(x[i], vec(p + "input_layernorm.weight"));
                q[i] = linear(wq, bq, h, heads * hd, d);
                k[i] = linear(wk, bk, h, kvHeads * hd, d);
                v[i] = linear(wv, bv, h, kvHeads * hd, d);
                rope(q[i], heads, positions[i], base);
                rope(k[i], kvHeads, positions[i], base);
            }
            for (int i = 0; i < n; i++) {
                double[] att = new double[heads * hd];
                for (int h = 0; h < heads; h++) {
                    int kh = h / (heads / kvHeads);
                    double[] s = new double[i + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    int first = window > 0 ? Math.max(0, i - window + 1) : 0;
                    for (int j = 0; j < first; j++) {
                        s[j] = Double.NEGATIVE_INFINITY;
                    }
                    for (int j = first; j <= i; j++) {
                        double dot = 0;
                        for (int e = 0; e < hd; e++) {
                            dot += q[i][h * hd + e] * k[j][kh * hd + e];
                        }
                        s[j] = dot / Math.sqrt(hd);
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) {
                        s[j] = j < first ? 0 : Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int j = 0; j <= i; j++) {
                        for (int e = 0; e < hd; e++) {
                            att[h * hd + e] += s[j] / sum * v[j][kh * hd + e];
                        }
                    }
                }
                double[] o = linear(wo, null, att, d, heads * hd);
                for (int e = 0; e < d; e++) {
                    x[i][e] += o[e];
                }
            }
            double[] wg = vec(p + "mlp.gate_proj.weight");
            double[] wu = vec(p + "mlp.up_proj.weight");
            double[] wd = vec(p + "mlp.down_proj.weight");
            for (int i = 0; i < n; i++) {
                double[] h = rmsNorm(x[i], vec(p + "post_attention_layernorm.weight"));
                double[] g = linear(wg, null, h, ff, d);
                double[] u = linear(wu, null, h, ff, d);
                for (int e = 0; e < ff; e++) {
                    g[e] = g[e] / (1 + Math.exp(-g[e])) * u[e];
                }
                double[] dn = linear(wd, null, g, d, ff);
                for (int e = 0; e < d; e++) {
                    x[i][e] += dn[e];
                }
            }
        }
        double[] norm = vec("model.norm.weight");
        double[] head = tied ? embed : vec("lm_head.weight");
        float[][] out = new float[n][vocab];
        for (int i = 0; i < n; i++) {
            double[] lg = linear(head, null, rmsNorm(x[i], norm), vocab, d);
            for (int r = 0; r < vocab; r++) {
                out[i][r] = (float) lg[r];
            }
        }
        return out;
    }

    static double[] positions(int n, double divisor) {
        double[] p = new double[n];
        for (int i = 0; i < n; i++) {
            p[i] = i / divisor;
        }
        return p;
    }
}
