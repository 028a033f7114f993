package io.loadstone.bench;

import io.loadstone.engine.kernel.Vectors;
import io.loadstone.engine.tensor.PackedIntMatrix;
import java.io.PrintStream;
import java.util.Locale;
import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;

/**
 * One 4-bit group-128 matrix of TinyLlama's MLP shape (5632 × 2048, one thread): the engine's
 * packed layout ({@link PackedIntMatrix}, what GPTQ and AWQ are repacked into) against a kernel
 * run straight on AutoAWQ's GEMM layout ({@code qweight [in, out/8]}, eight outputs per word in
 * its nibble order), on the same values. Decides whether AWQ is repacked at load or gets a kernel
 * of its own. Prints tokens/s of one matrix for one token (decode) and 64 (prefill) and the
 * weight stream in GB/s, as ratios in one run. Not a test.
 *
 * <pre>
 *   java ... io.loadstone.bench.PackedKernelBench [--rows 5632] [--cols 2048] [--seconds 3]
 * </pre>
 */
public final class PackedKernelBench {

    private static final int GROUP = 128;

    private PackedKernelBench() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = System.out;
        int rows = 5632;
        int cols = 2048;
        double seconds = 3;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rows" -> rows = Integer.parseInt(args[++i]);
                case "--cols" -> cols = Integer.parseInt(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        run(out, rows, cols, seconds);
    }

    private static void run(PrintStream out, int rows, int cols, double seconds) {
        int groups = cols / GROUP;
        SplittableRandom r = new SplittableRandom(1);
        byte[] q = new byte[rows * cols];
        for (int i = 0; i < q.length; i++) {
            q[i] = (byte) r.nextInt(16);
        }
        short[] scales = new short[groups * rows];
        int[] zeros = new int[groups * rows];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = Float.floatToFloat16((float) (0.004 * (0.5 + r.nextDouble())));
            zeros[i] = 1 + r.nextInt(14);
        }
        int[] groupOf = new int[cols];
        for (int i = 0; i < cols; i++) {
            groupOf[i] = i / GROUP;
        }
        PackedIntMatrix packed = PackedIntMatrix.pack(new PackedIntMatrix.Unpacked("bench", "GPTQ-4", rows, cols, 4,
                (o, dst) -> System.arraycopy(q, o * cols, dst, 0, cols), groupOf, groups,
                scales, zeros, null));
        AwqNative awq = new AwqNative(rows, cols, q, scales, zeros);

        float[] x = new float[64 * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        float[] y1 = new float[64 * rows];
        float[] y2 = new float[rows];
        packed.multiply(x, cols, 1, y1, rows, 0, rows);
        awq.decode(x, y2);
        double diff = 0;
        for (int o = 0; o < rows; o++) {
            diff = Math.max(diff, Math.abs(y1[o] - y2[o]));
        }
        out.printf(Locale.ROOT, "%d x %d, 4-bit group %d, %d-bit vectors; same products? max |packed - awq layout| = %.2e%n", rows, cols,
                GROUP, Vectors.F.vectorBitSize(), diff);
        double bytes = rows * (double) cols / 2;
        double packedDecode = rate(seconds, () -> packed.multiply(x, cols, 1, y1, rows, 0, rows));
        double awqDecode = rate(seconds, () -> awq.decode(x, y2));
        // The engine's existing decode kernels on the same shape, for scale: BF16 (its best) and NF4.
        java.lang.foreign.MemorySegment bf16 = java.lang.foreign.Arena.ofAuto().allocate((long) rows * cols * 2, 64);
        for (long i = 0; i < (long) rows * cols; i++) {
            bf16.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 2 * i, Vectors.floatToBf16((float) r.nextGaussian() * 0.02f));
        }
        long nf4Row = io.loadstone.engine.kernel.QuantVec.nf4RowBytes(cols);
        java.lang.foreign.MemorySegment nf4 = java.lang.foreign.Arena.ofAuto().allocate(rows * nf4Row, 64);
        for (long i = 0; i < rows * nf4Row; i++) {
            nf4.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(256));
        }
        float[] absmax = new float[rows * cols / 64];
        java.util.Arrays.fill(absmax, 0.05f);
        double bf16Decode = rate(seconds, () -> {
            for (int o = 0; o < rows; o++) {
                y2[o] = io.loadstone.engine.kernel.MatVec.dotBF16(bf16, (long) o * cols * 2, cols, x, 0);
            }
        });
        double nf4Decode = rate(seconds, () -> {
            for (int o = 0; o < rows; o++) {
                y2[o] = io.loadstone.engine.kernel.QuantVec.nf4Dot(nf4, o * nf4Row, absmax, o * (cols / 64), cols, x, 0);
            }
        });
        out.printf(Locale.ROOT, "decode, BF16 (engine):        %8.1f tok/s  %5.1f GB/s   packed / BF16 tok/s = %.2f%n", bf16Decode,
                bf16Decode * rows * cols * 2.0 / 1e9, packedDecode / bf16Decode);
        out.printf(Locale.ROOT, "decode, NF4 (engine):         %8.1f tok/s  %5.1f GB/s   packed / NF4 tok/s = %.2f%n", nf4Decode,
                nf4Decode * rows * nf4Row / 1e9, packedDecode / nf4Decode);
        double packedPrefill = 64 * rate(seconds, () -> packed.multiply(x, cols, 64, y1, rows, 0, rows));
        out.printf(Locale.ROOT, "decode, engine packed layout: %8.1f tok/s  %5.1f GB/s%n", packedDecode, packedDecode * bytes / 1e9);
        out.printf(Locale.ROOT, "decode, kernel on AWQ layout: %8.1f tok/s  %5.1f GB/s   packed / awq-layout = %.2f%n", awqDecode,
                awqDecode * bytes / 1e9, packedDecode / awqDecode);
        out.printf(Locale.ROOT, "prefill (64 tokens), packed:  %8.1f tok/s  (%.1f GFLOP/s)%n", packedPrefill,
                packedPrefill * 2.0 * rows * cols / 1e9);
    }

    private static double rate(double seconds, Runnable r) {
        for (int i = 0; i < 20; i++) {
            r.run();
        }
        double best = 0;
        for (int round = 0; round < 3; round++) {
            int n = 0;
            long t0 = System.nanoTime();
            long end = t0 + (long) (seconds / 3 * 1e9);
            long t;
            do {
                r.run();
                n++;
                t = System.nanoTime();
            } while (t < end);
            best = Math.max(best, n / ((t - t0) / 1e9));
        }
        return best;
    }

    /**
     * A decode kernel on AutoAWQ's GEMM layout as stored: per input row, words of eight outputs;
     * one vector covers 8·LANES outputs, nibble n of every lane feeds accumulator n. Scales and
     * zeros are rearranged to match (a kernel per layout would do that at load too).
     */
    static final class AwqNative {
        private static final int[] ORDER = {0, 2, 4, 6, 1, 3, 5, 7};
        private final int rows;
        private final int cols;
        private final int[] qweight; // [cols][rows / 8]
        private final float[] scale; // [group][n][rows / 8]: output 8c + ORDER[n]
        private final float[] zero;

        AwqNative(int rows, int cols, byte[] q, short[] scales, int[] zeros) {
            this.rows = rows;
            this.cols = cols;
            int w = rows / 8;
            qweight = new int[cols * w];
            for (int i = 0; i < cols; i++) {
                for (int c = 0; c < w; c++) {
                    int word = 0;
                    for (int n = 0; n < 8; n++) {
                        word |= q[(8 * c + ORDER[n]) * cols + i] << (4 * n);
                    }
                    qweight[i * w + c] = word;
                }
            }
            int groups = cols / GROUP;
            scale = new float[groups * 8 * w];
            zero = new float[groups * 8 * w];
            for (int g = 0; g < groups; g++) {
                for (int n = 0; n < 8; n++) {
                    for (int c = 0; c < w; c++) {
                        int o = 8 * c + ORDER[n];
                        scale[(g * 8 + n) * w + c] = Float.float16ToFloat(scales[g * rows + o]);
                        zero[(g * 8 + n) * w + c] = zeros[g * rows + o];
                    }
                }
            }
        }

        void decode(float[] x, float[] y) {
            int w = rows / 8;
            int lanes = Vectors.LANES;
            float[] res = new float[8 * lanes];
            for (int c0 = 0; c0 < w; c0 += lanes) {
                java.util.Arrays.fill(res, 0);
                for (int g = 0; g < cols / GROUP; g++) {
                    FloatVector a0 = FloatVector.zero(Vectors.F);
                    FloatVector a1 = a0;
                    FloatVector a2 = a0;
                    FloatVector a3 = a0;
                    FloatVector a4 = a0;
                    FloatVector a5 = a0;
                    FloatVector a6 = a0;
                    FloatVector a7 = a0;
                    float sum = 0;
                    for (int i = g * GROUP; i < (g + 1) * GROUP; i++) {
                        IntVector v = IntVector.fromArray(Vectors.I, qweight, i * w + c0);
                        FloatVector xi = FloatVector.broadcast(Vectors.F, x[i]);
                        sum += x[i];
                        a0 = f(v.and(0xF)).fma(xi, a0);
                        a1 = f(v.lanewise(jdk.incubator.vector.VectorOperators.LSHR, 4).and(0xF)).fma(xi, a1);
                        a2 = f(v.lanewise(jdk.incubator.vector.VectorOperators.LSHR, 8).and(0xF)).fma(xi, a2);
                        a3 = f(v.lanewise(jdk.incubator.vector.VectorOperators.LSHR, 12).and(0xF)).fma(xi, a3);
                        a4 = f(v.lanewise(jdk.incubator.vector.VectorOperators.LSHR, 16).and(0xF)).fma(xi, a4);
                        a5 = f(v.lanewise(jdk.incubator.vector.VectorOperators.LSHR, 20).and(0xF)).fma(xi, a5);
                        a6 = f(v.lanewise(jdk.incubator.vector.VectorOperators.LSHR, 24).and(0xF)).fma(xi, a6);
                        a7 = f(v.lanewise(jdk.incubator.vector.VectorOperators.LSHR, 28)).fma(xi, a7);
                    }
                    flush(g, 0, a0, sum, c0, res);
                    flush(g, 1, a1, sum, c0, res);
                    flush(g, 2, a2, sum, c0, res);
                    flush(g, 3, a3, sum, c0, res);
                    flush(g, 4, a4, sum, c0, res);
                    flush(g, 5, a5, sum, c0, res);
                    flush(g, 6, a6, sum, c0, res);
                    flush(g, 7, a7, sum, c0, res);
                }
                for (int n = 0; n < 8; n++) {
                    for (int l = 0; l < lanes; l++) {
                        y[8 * (c0 + l) + ORDER[n]] = res[n * lanes + l];
                    }
                }
            }
        }

        private void flush(int g, int n, FloatVector a, float sum, int c0, float[] res) {
            int w = rows / 8;
            int at = (g * 8 + n) * w + c0;
            FloatVector s = FloatVector.fromArray(Vectors.F, scale, at);
            FloatVector z = FloatVector.fromArray(Vectors.F, zero, at);
            int lanes = Vectors.LANES;
            s.fma(z.fma(FloatVector.broadcast(Vectors.F, -sum), a), FloatVector.fromArray(Vectors.F, res, n * lanes))
                    .intoArray(res, n * lanes);
        }

        private static FloatVector f(IntVector v) {
            return (FloatVector) v.convertShape(jdk.incubator.vector.VectorOperators.I2F, Vectors.F, 0);
        }
    }
}
