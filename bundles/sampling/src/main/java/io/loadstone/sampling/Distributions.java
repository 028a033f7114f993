package io.loadstone.sampling;

/** Softmax helpers over whole score vectors; {@code -inf} entries have probability 0. */
final class Distributions {

    private Distributions() {
    }

    static float max(float[] scores) {
        float max = Float.NEGATIVE_INFINITY;
        for (float s : scores) {
            if (s > max) {
                max = s;
            }
        }
        return max;
    }

    /** log(sum(exp(scores))), computed stably in double. */
    static double logSumExp(float[] scores) {
        float max = max(scores);
        if (max == Float.NEGATIVE_INFINITY) {
            return Double.NEGATIVE_INFINITY;
        }
        double sum = 0;
        for (float s : scores) {
            if (s != Float.NEGATIVE_INFINITY) {
                sum += Math.exp(s - (double) max);
            }
        }
        return max + Math.log(sum);
    }

    /** Shannon entropy (nats) of softmax(scores), given their log-sum-exp; zero-probability terms count as 0. */
    static double entropy(float[] scores, double lse) {
        double h = 0;
        for (float s : scores) {
            if (s != Float.NEGATIVE_INFINITY) {
                double logp = s - lse;
                double p = Math.exp(logp);
                if (p > 0) {
                    h -= p * logp;
                }
            }
        }
        return h;
    }

    /**
     * The {@code k}-th largest score (1-based), by partial selection: a size-k min-heap over
     * one pass, O(V log k) without sorting or copying the vocabulary.
     */
    static float kthLargest(float[] scores, int k, float[] heap) {
        int n = scores.length;
        if (k >= n) {
            float min = Float.POSITIVE_INFINITY;
            for (float s : scores) {
                min = Math.min(min, s);
            }
            return min;
        }
        System.arraycopy(scores, 0, heap, 0, k);
        for (int i = k / 2 - 1; i >= 0; i--) {
            siftDown(heap, i, k);
        }
        for (int i = k; i < n; i++) {
            float s = scores[i];
            if (s > heap[0]) {
                heap[0] = s;
                siftDown(heap, 0, k);
            }
        }
        return heap[0];
    }

    private static void siftDown(float[] heap, int i, int size) {
        float v = heap[i];
        while (true) {
            int c = 2 * i + 1;
            if (c >= size) {
                break;
            }
            if (c + 1 < size && heap[c + 1] < heap[c]) {
                c++;
            }
            if (heap[c] >= v) {
                break;
            }
            heap[i] = heap[c];
            i = c;
        }
        heap[i] = v;
    }
}
