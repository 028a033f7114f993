package io.loadstone.sampling;

/**
 * Repetition, presence and frequency penalties over the last {@code range} tokens of the
 * history (text-generation-webui's {@code RepetitionPenaltyLogitsProcessorWithRange}).
 *
 * <p>Each distinct token in the window is penalised once multiplicatively as transformers
 * does: a positive score is divided by the penalty, a negative one multiplied, so a penalty
 * above 1 always makes the token less likely. Then, additively (OpenAI style),
 * {@code presence_penalty} once per distinct token and {@code frequency_penalty} once per
 * occurrence are subtracted.
 */
public final class RepetitionPenalty implements LogitsProcessor {

    private final float penalty;
    private final float presence;
    private final float frequency;
    private final int range;
    private int[] counts = new int[0];

    /**
     * @param penalty   multiplicative penalty, > 0 (1 = none)
     * @param presence  subtracted once from each token present in the window
     * @param frequency subtracted once per occurrence in the window
     * @param range     how many of the latest tokens to look at; 0 = the whole history
     */
    public RepetitionPenalty(double penalty, double presence, double frequency, int range) {
        if (!(penalty > 0) || Double.isInfinite(penalty)) {
            throw new IllegalArgumentException("repetition_penalty must be a finite number > 0 (got " + penalty
                    + "); 1 turns it off");
        }
        if (range < 0) {
            throw new IllegalArgumentException("repetition_penalty_range must be >= 0 (got " + range
                    + "); 0 means the whole context");
        }
        this.penalty = (float) penalty;
        this.presence = (float) presence;
        this.frequency = (float) frequency;
        this.range = range;
    }

    @Override
    public void process(TokenHistory history, float[] scores) {
        int vocab = scores.length;
        if (counts.length < vocab) {
            counts = new int[vocab];
        }
        int[] tokens = history.raw();
        int end = history.size();
        int start = range == 0 ? 0 : Math.max(0, end - range);
        for (int i = start; i < end; i++) {
            int t = tokens[i];
            if (t < 0 || t >= vocab) {
                throw new IllegalArgumentException("token id " + t + " at position " + i
                        + " of the history is outside the vocabulary of " + vocab + " entries");
            }
            counts[t]++;
        }
        // Second pass visits each distinct token once (its count is reset after use), so the
        // scratch array is clean for the next step without clearing the whole vocabulary.
        for (int i = start; i < end; i++) {
            int t = tokens[i];
            int c = counts[t];
            if (c == 0) {
                continue;
            }
            counts[t] = 0;
            float s = scores[t];
            s = s < 0 ? s * penalty : s / penalty;
            scores[t] = s - (presence + frequency * c);
        }
    }

    @Override
    public String name() {
        return "repetition_penalty";
    }
}
