package io.loadstone.sampling;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

import io.loadstone.api.loader.GenerationRequest;

/**
 * One generation's sampler: the processed-logits chain plus its state (the seeded random
 * generator, mirostat's mu, the token history). Feed it one logits vector per step with
 * {@link #next(float[])}, then tell it the token the loader actually appended with
 * {@link #accept(int)} (usually the one {@code next} returned).
 *
 * <p>Per step, as transformers' {@code generate()}: guidance combination, processors
 * (penalties, n-gram bans, suppressed tokens, extra processors), then either argmax
 * (greedy) or the warpers and a draw from the softmax. The caller's arrays are never
 * modified; the working buffer is reused across steps. Not thread-safe: one session per
 * generation.
 */
public final class SamplingSession {

    /** Named so the same seed gives the same tokens on every JDK (the default algorithm may change). */
    static final String RNG_ALGORITHM = "L64X128MixRandom";

    private final SamplerSettings settings;
    private final long seed;
    private final RandomGenerator random;
    private final TokenHistory history;
    private final List<LogitsProcessor> processors;
    private final List<LogitsProcessor> warpers;
    private final LogitsProcessor mirostat;
    private float[] work = new float[0];
    private double[] weights = new double[0];
    private int vocab = -1;

    private SamplingSession(Builder b) {
        this.settings = b.settings;
        this.seed = b.settings.seed() == -1 ? RandomGenerator.getDefault().nextLong(1, 1L << 31) : b.settings.seed();
        this.random = RandomGeneratorFactory.of(RNG_ALGORITHM).create(seed);
        this.history = new TokenHistory(b.prompt);
        List<LogitsProcessor> procs = new ArrayList<>(b.settings.processors());
        if (b.suppressed.length > 0) {
            procs.add(new SuppressTokens(b.suppressed));
        }
        procs.addAll(b.extra);
        this.processors = List.copyOf(procs);
        this.warpers = b.settings.warpers(random);
        this.mirostat = warpers.stream().filter(w -> w instanceof Mirostat || w instanceof MirostatV1).findFirst()
                .orElse(null);
    }

    /**
     * A session for {@code request}'s sampling parameters, after {@code promptTokens}.
     *
     * @param eosTokens the model's end-of-sequence ids: banned when the request says
     *                  {@link GenerationRequest#banEos()}, ignored otherwise
     * @throws IllegalArgumentException a parameter is unknown or out of range (the message names it)
     */
    public static SamplingSession start(GenerationRequest request, int[] promptTokens, int... eosTokens) {
        Builder b = builder(SamplerSettings.of(request)).prompt(promptTokens);
        if (request.banEos()) {
            b.suppress(eosTokens);
        }
        return b.build();
    }

    public static Builder builder(SamplerSettings settings) {
        return new Builder(settings);
    }

    /** Assembles a session; everything but the settings is optional. */
    public static final class Builder {
        private final SamplerSettings settings;
        private int[] prompt = new int[0];
        private int[] suppressed = new int[0];
        private final List<LogitsProcessor> extra = new ArrayList<>();

        private Builder(SamplerSettings settings) {
            this.settings = Objects.requireNonNull(settings, "settings");
        }

        /** The prompt's tokens: penalties and n-gram bans count them, as in transformers. */
        public Builder prompt(int[] tokens) {
            this.prompt = tokens.clone();
            return this;
        }

        /** Tokens that may never be produced (ban_eos_token, custom token bans). */
        public Builder suppress(int... tokens) {
            int[] all = Arrays.copyOf(suppressed, suppressed.length + tokens.length);
            System.arraycopy(tokens, 0, all, suppressed.length, tokens.length);
            this.suppressed = all;
            return this;
        }

        /** A processor run after the built-in ones, for greedy decoding too (a grammar, say). */
        public Builder processor(LogitsProcessor processor) {
            extra.add(Objects.requireNonNull(processor, "processor"));
            return this;
        }

        public SamplingSession build() {
            return new SamplingSession(this);
        }
    }

    /**
     * Picks the next token.
     *
     * @throws IllegalStateException    when guidance is on (it needs {@link #next(float[], float[])}) or
     *                                  every token was filtered out
     * @throws IllegalArgumentException when the logits are malformed (NaN, +inf, vocabulary changed)
     */
    public int next(float[] logits) {
        if (settings.usesGuidance()) {
            throw new IllegalStateException("guidance_scale = " + settings.guidanceScale()
                    + " needs the negative prompt's logits each step: call next(logits, unconditionalLogits), "
                    + "or set guidance_scale to 1");
        }
        return step(logits, null);
    }

    /**
     * Picks the next token with classifier-free guidance: {@code unconditional} are the
     * logits of the negative prompt (or of the last token alone when there is none, as
     * transformers does) continued with the same generated tokens.
     */
    public int next(float[] logits, float[] unconditional) {
        Objects.requireNonNull(unconditional, "unconditional");
        return step(logits, settings.usesGuidance() ? unconditional : null);
    }

    private int step(float[] logits, float[] unconditional) {
        int n = logits.length;
        if (vocab == -1) {
            if (n == 0) {
                throw new IllegalArgumentException("empty logits: the model reported a vocabulary of 0 tokens");
            }
            vocab = n;
            work = new float[n];
        } else if (n != vocab) {
            throw new IllegalArgumentException("logits have " + n + " entries but earlier steps of this "
                    + "generation had " + vocab + "; one session serves one model");
        }
        validate(logits, "logits");
        System.arraycopy(logits, 0, work, 0, n);
        if (unconditional != null) {
            validate(unconditional, "negative-prompt logits");
            ClassifierFreeGuidance.combine(work, unconditional, settings.guidanceScale());
        }
        for (LogitsProcessor p : processors) {
            p.process(history, work);
        }
        if (settings.greedy()) {
            return argmax(work);
        }
        for (LogitsProcessor w : warpers) {
            w.process(history, work);
        }
        return draw(work);
    }

    private static void validate(float[] v, String what) {
        for (int i = 0; i < v.length; i++) {
            float x = v[i];
            if (Float.isNaN(x) || x == Float.POSITIVE_INFINITY) {
                throw new InvalidLogitsException(what + " hold " + x + " at token " + i
                        + ": the model produced invalid numbers (check the model file and its precision)");
            }
        }
    }

    /** First index of the maximum, as torch.argmax. */
    private int argmax(float[] scores) {
        int best = -1;
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < scores.length; i++) {
            if (scores[i] > max) {
                max = scores[i];
                best = i;
            }
        }
        if (best < 0) {
            throw nothingLeft();
        }
        return best;
    }

    /**
     * Inverse-CDF draw from softmax(scores) with one uniform number from the session's
     * generator; each exponential is computed once into a reused buffer.
     */
    private int draw(float[] scores) {
        float max = Distributions.max(scores);
        if (max == Float.NEGATIVE_INFINITY) {
            throw nothingLeft();
        }
        int n = scores.length;
        if (weights.length < n) {
            weights = new double[n];
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float s = scores[i];
            double w = s == Float.NEGATIVE_INFINITY ? 0 : Math.exp(s - (double) max);
            weights[i] = w;
            sum += w;
        }
        double u = random.nextDouble() * sum;
        double acc = 0;
        int lastLive = -1;
        for (int i = 0; i < n; i++) {
            double w = weights[i];
            if (w > 0) {
                acc += w;
                lastLive = i;
                if (u < acc) {
                    return i;
                }
            }
        }
        return lastLive; // rounding left u just above the running sum
    }

    private IllegalStateException nothingLeft() {
        return new IllegalStateException("every token was filtered out (chain " + settings.chain()
                + "); the banned tokens or n-gram size leave nothing to generate");
    }

    /** Records the token the loader appended, so penalties and n-gram bans see it next step. */
    public void accept(int token) {
        if (token < 0 || (vocab > 0 && token >= vocab)) {
            throw new IllegalArgumentException("token id " + token + " is outside the vocabulary of " + vocab
                    + " entries");
        }
        history.add(token);
    }

    /** The seed in use: the requested one, or the random one chosen for seed -1 (report it so users can replay). */
    public long seed() {
        return seed;
    }

    /** Mirostat's current mu, or NaN when mirostat is off. */
    public double mirostatMu() {
        return switch (mirostat) {
            case Mirostat m -> m.mu();
            case MirostatV1 m -> m.mu();
            case null, default -> Double.NaN;
        };
    }

    public SamplerSettings settings() {
        return settings;
    }

    /** Prompt and accepted tokens, oldest first. */
    public int[] tokens() {
        return history.toArray();
    }

    /**
     * The scores the last {@link #next} drew from (after every processor and warper), a
     * copy: what text-generation-webui's logits viewer shows. Empty before the first step.
     */
    public float[] lastScores() {
        return vocab == -1 ? new float[0] : work.clone();
    }

    /** The chain in order, by parameter name (see {@link SamplerSettings#chain()}), including added processors. */
    public List<String> chain() {
        List<String> names = new ArrayList<>();
        if (settings.usesGuidance()) {
            names.add("guidance_scale");
        }
        processors.forEach(p -> names.add(p.name()));
        if (!settings.greedy()) {
            warpers.forEach(w -> names.add(w.name()));
        }
        return names;
    }
}
