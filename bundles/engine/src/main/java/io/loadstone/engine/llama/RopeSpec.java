package io.loadstone.engine.llama;

/**
 * How rotary position embeddings are computed: base and frequency scaling, after the config's
 * {@code rope_scaling} / {@code rope_parameters} and the user's overrides are combined.
 *
 * @param base               effective base (rope_theta, or the override / NTK-alpha result)
 * @param type               "default", "linear" or "llama3"
 * @param factor             frequency divisor (linear, llama3); 1 otherwise
 * @param lowFreqFactor      llama3 only
 * @param highFreqFactor     llama3 only
 * @param originalMaxPositions llama3 only: {@code original_max_position_embeddings}
 */
public record RopeSpec(double base, String type, double factor, double lowFreqFactor, double highFreqFactor,
        int originalMaxPositions) {

    public static RopeSpec plain(double base) {
        return new RopeSpec(base, "default", 1, 0, 0, 0);
    }

    public RopeSpec withBase(double newBase) {
        return new RopeSpec(newBase, type, factor, lowFreqFactor, highFreqFactor, originalMaxPositions);
    }

    /** "none", "linear x2", "llama3 x8". */
    public String describe() {
        return type.equals("default") ? "none" : type + " x" + (factor == Math.rint(factor) ? String.valueOf((long) factor) : String.valueOf(factor));
    }
}
