package io.loadstone.engine.llama;

/**
 * Rotary position embedding exactly as Hugging Face Llama applies it: the head is split in two
 * halves and rotated by {@code x·cos + rotate_half(x)·sin} with {@code rotate_half(x) = [-x₂, x₁]}
 * (not llama.cpp's interleaved pairs; HF q/k weights are laid out for the halves).
 *
 * <p>Frequencies are computed in float32 the way transformers does
 * ({@code 1 / base^(2i/d)}, then divided by the linear factor), and the angle is
 * {@code float(position) · inv_freq} rounded to float, so logits match the reference closely
 * even at long positions.
 */
public final class Rope {

    private final int headDim;
    private final int half;
    private final float[] invFreq;

    public Rope(int headDim, RopeSpec spec) {
        this.headDim = headDim;
        this.half = headDim / 2;
        this.invFreq = new float[half];
        float base = (float) spec.base();
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / headDim;
            invFreq[i] = (float) (1.0 / (float) Math.pow(base, exponent));
        }
        switch (spec.type()) {
            case "linear" -> {
                float factor = (float) spec.factor();
                for (int i = 0; i < half; i++) {
                    invFreq[i] = invFreq[i] / factor;
                }
            }
            case "llama3" -> llama3(spec);
            default -> {
            }
        }
    }

    /**
     * Llama 3.1 frequency smoothing: long wavelengths (beyond the original context / low factor)
     * are divided by {@code factor}, short ones (below original / high factor) kept, the band
     * between interpolated.
     */
    private void llama3(RopeSpec spec) {
        double lowWavelen = spec.originalMaxPositions() / spec.lowFreqFactor();
        double highWavelen = spec.originalMaxPositions() / spec.highFreqFactor();
        for (int i = 0; i < half; i++) {
            double f = invFreq[i];
            double wavelen = 2 * Math.PI / f;
            double scaled;
            if (wavelen > lowWavelen) {
                scaled = f / spec.factor();
            } else if (wavelen < highWavelen) {
                scaled = f;
            } else {
                double smooth = (spec.originalMaxPositions() / wavelen - spec.lowFreqFactor())
                        / (spec.highFreqFactor() - spec.lowFreqFactor());
                scaled = (1 - smooth) * f / spec.factor() + smooth * f;
            }
            invFreq[i] = (float) scaled;
        }
    }

    public int headDim() {
        return headDim;
    }

    /** cos and sin of the angles for {@code position}, {@code headDim/2} each, at {@code off}. */
    public void angles(int position, float[] cos, float[] sin, int off) {
        float p = position;
        for (int i = 0; i < half; i++) {
            float angle = p * invFreq[i];
            cos[off + i] = (float) Math.cos(angle);
            sin[off + i] = (float) Math.sin(angle);
        }
    }

    /** Rotates {@code heads} consecutive heads of {@code v} starting at {@code off}. */
    public void apply(float[] v, int off, int heads, float[] cos, float[] sin, int co) {
        for (int h = 0; h < heads; h++) {
            int base = off + h * headDim;
            for (int i = 0; i < half; i++) {
                float x1 = v[base + i];
                float x2 = v[base + half + i];
                float c = cos[co + i];
                float s = sin[co + i];
                v[base + i] = x1 * c - x2 * s;
                v[base + half + i] = x2 * c + x1 * s;
            }
        }
    }

    /** The frequencies (for tests). */
    float[] invFreq() {
        return invFreq.clone();
    }
}
