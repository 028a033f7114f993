package io.loadstone.bench;

import io.loadstone.engine.exl2.Exl2Format;
import io.loadstone.engine.exl2.Exl2Writer;
import io.loadstone.engine.kernel.Vectors;
import io.loadstone.engine.safetensors.DType;
import io.loadstone.engine.safetensors.SafetensorsFile;
import io.loadstone.testsupport.SafetensorsWriter;
import io.loadstone.engine.safetensors.TensorView;
import io.loadstone.engine.tensor.Matrix;
import io.loadstone.engine.tensor.StoredMatrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * One TinyLlama MLP-sized matrix (5632 × 2048) as EXL2 4.0 and 6.0 bpw against the same weights
 * in F16, on one thread: one-token products (decode) and 64-token products (prefill), as
 * ratios to F16 measured in this run. Isolates the EXL2 kernels from the rest of the model.
 *
 * <pre>  java … io.loadstone.bench.Exl2KernelBench [reps]</pre>
 */
public final class Exl2KernelBench {

    private Exl2KernelBench() {
    }

    public static void main(String[] args) throws Exception {
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 50;
        int rows = 5632;
        int cols = 2048;
        float[] w = Exl2Writer.random(rows, cols, 1);
        Path dir = Files.createTempDirectory("exl2-kernel-bench");
        Path file = dir.resolve("m.safetensors");
        List<SafetensorsWriter.Tensor> t = new ArrayList<>();
        short[] h = new short[w.length];
        for (int i = 0; i < w.length; i++) {
            h[i] = Float.floatToFloat16(w[i]);
        }
        t.add(new SafetensorsWriter.Tensor("f16.weight", DType.F16, new long[] {rows, cols},
                s -> MemorySegment.copy(h, 0, s, ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, h.length)));
        int[] perm = Exl2Writer.actOrder(w, rows, cols);
        for (int bpw : new int[] {4, 6}) {
            t.addAll(Exl2Writer.quantize(w, rows, cols, Exl2Writer.preset128(cols, bpw), perm).tensors("exl2_" + bpw, false));
        }
        SafetensorsWriter.write(file, Map.of(), t);
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile sf = SafetensorsFile.open(file, arena);
            Matrix f16 = new StoredMatrix(sf.tensors().get("f16.weight"));
            Exl2Format format = new Exl2Format();
            Matrix e4 = (Matrix) format.load("exl2_4", rows, cols, n -> Optional.ofNullable(sf.tensors().get(n)).map(TensorView::new));
            Matrix e6 = (Matrix) format.load("exl2_6", rows, cols, n -> Optional.ofNullable(sf.tensors().get(n)).map(TensorView::new));
            System.out.printf(Locale.ROOT, "%d x %d, one thread, %d float lanes, %s%n", rows, cols, Vectors.LANES, QuantVsLlamaCpp.cpuModel());
            for (int n : new int[] {1, 64}) {
                float[] x = Exl2Writer.random(n, cols, 2);
                float[] out = new float[n * rows];
                double tf = time(f16, x, n, out, reps);
                double t4 = time(e4, x, n, out, reps);
                double t6 = time(e6, x, n, out, reps);
                System.out.printf(Locale.ROOT, "n=%2d: F16 %.2f ms, EXL2 4.0 %.2f ms (%.2fx F16 speed), EXL2 6.0 %.2f ms (%.2fx)%n", n, tf,
                        t4, tf / t4, t6, tf / t6);
            }
        }
        Files.delete(file);
        Files.delete(dir);
    }

    /** Best of {@code reps} after as many warm-up calls, in ms. */
    private static double time(Matrix m, float[] x, int n, float[] out, int reps) {
        double best = Double.MAX_VALUE;
        for (int i = 0; i < 2 * reps; i++) {
            long t0 = System.nanoTime();
            m.multiply(x, m.cols(), n, out, m.rows(), 0, m.rows());
            if (i >= reps) {
                best = Math.min(best, (System.nanoTime() - t0) / 1e6);
            }
        }
        return best;
    }
}
