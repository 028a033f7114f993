package io.loadstone.sampling;

import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

import io.loadstone.api.loader.Sampling;

/**
 * Speed of the sampler on real vocabulary sizes (32k Llama, 152k Qwen2). Not a test: run
 * {@code java -cp target/classes:target/test-classes:<api jar> io.loadstone.sampling.SamplingBenchmark}.
 * Prints time per step and ratios; numbers depend on the machine.
 */
public final class SamplingBenchmark {

    private SamplingBenchmark() {
    }

    public static void main(String[] args) {
        for (int vocab : new int[] {32_000, 151_936}) {
            float[][] steps = logits(vocab, 64);
            System.out.printf("vocabulary %d%n", vocab);
            double partial = topKPartial(steps, 40);
            double sorted = topKBySort(steps, 40);
            System.out.printf("  top_k=40 threshold: heap %.3f ms, full sort %.3f ms, sort/heap %.1fx%n", partial,
                    sorted, sorted / partial);
            double plain = perStep(steps, Map.of(Sampling.SEED, 1));
            row("neutral (softmax draw only)", plain, plain);
            row("simple-1 (T .7, top_p .9, top_k 20, rep 1.15)", perStep(steps, Map.of(Sampling.TEMPERATURE, 0.7,
                    Sampling.TOP_P, 0.9, Sampling.TOP_K, 20, Sampling.REPETITION_PENALTY, 1.15, Sampling.SEED, 1)),
                    plain);
            row("min_p .05 + temperature_last", perStep(steps, Map.of(Sampling.MIN_P, 0.05,
                    Sampling.TEMPERATURE, 1.5, Sampling.TEMPERATURE_LAST, true, Sampling.SEED, 1)), plain);
            row("top_p .9 alone (ranks only the head)", perStep(steps, Map.of(Sampling.TOP_P, 0.9,
                    Sampling.SEED, 1)), plain);
            row("typical .9 + tfs .95 (two full sorts)", perStep(steps, Map.of(Sampling.TYPICAL_P, 0.9,
                    Sampling.TFS, 0.95, Sampling.SEED, 1)), plain);
            row("mirostat 2", perStep(steps, Map.of(Sampling.MIROSTAT_MODE, 2, Sampling.SEED, 1)), plain);
            row("greedy", perStep(steps, Map.of(Sampling.DO_SAMPLE, false)), plain);
        }
    }

    private static void row(String name, double ms, double base) {
        System.out.printf("  %-48s %.3f ms/step (%.2fx neutral)%n", name, ms, ms / base);
    }

    private static float[][] logits(int vocab, int n) {
        SplittableRandom rnd = new SplittableRandom(5);
        float[][] out = new float[n][vocab];
        for (float[] row : out) {
            for (int i = 0; i < vocab; i++) {
                row[i] = (float) (rnd.nextGaussian() * 3);
            }
        }
        return out;
    }

    private static double perStep(float[][] steps, Map<String, ?> params) {
        SamplerSettings settings = SamplerSettings.of(params);
        int[] prompt = new int[512];
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = (i * 7919) % steps[0].length;
        }
        long best = Long.MAX_VALUE;
        for (int round = 0; round < 8; round++) {
            SamplingSession s = SamplingSession.builder(settings).prompt(prompt).build();
            long t0 = System.nanoTime();
            for (float[] l : steps) {
                s.accept(s.next(l));
            }
            best = Math.min(best, System.nanoTime() - t0);
        }
        return best / 1e6 / steps.length;
    }

    private static double topKPartial(float[][] steps, int k) {
        long best = Long.MAX_VALUE;
        float[] work = new float[steps[0].length];
        TopK topK = new TopK(k, 1);
        TokenHistory h = new TokenHistory();
        for (int round = 0; round < 8; round++) {
            long t0 = System.nanoTime();
            for (float[] l : steps) {
                System.arraycopy(l, 0, work, 0, l.length);
                topK.process(h, work);
            }
            best = Math.min(best, System.nanoTime() - t0);
        }
        return best / 1e6 / steps.length;
    }

    private static double topKBySort(float[][] steps, int k) {
        long best = Long.MAX_VALUE;
        float[] work = new float[steps[0].length];
        float sink = 0;
        for (int round = 0; round < 8; round++) {
            long t0 = System.nanoTime();
            for (float[] l : steps) {
                System.arraycopy(l, 0, work, 0, l.length);
                Arrays.sort(work);
                float kth = work[work.length - k];
                for (int i = 0; i < l.length; i++) {
                    work[i] = l[i] < kth ? Float.NEGATIVE_INFINITY : l[i];
                }
                sink += work[0];
            }
            best = Math.min(best, System.nanoTime() - t0);
        }
        if (sink == 42) {
            System.out.print("");
        }
        return best / 1e6 / steps.length;
    }
}
