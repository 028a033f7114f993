package io.loadstone.sampling;

/** Divides every score by the temperature (transformers' {@code TemperatureLogitsWarper}). */
public final class Temperature implements LogitsProcessor {

    private final float temperature;

    /** @param temperature strictly positive; 0 means greedy, which sessions handle without this warper */
    public Temperature(double temperature) {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number > 0 (got " + temperature
                    + "); use 0 or do_sample=false for greedy decoding");
        }
        this.temperature = (float) temperature;
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        for (int i = 0; i < scores.length; i++) {
            scores[i] /= temperature;
        }
    }

    @Override
    public String name() {
        return "temperature";
    }
}
