package io.loadstone.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.api.loader.ModelLoadException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The {@link LinearFormat} SPI as a GPTQ loader would use it: a small GPTQ v1 dequantizer
 * (written here from the format notes, 4-bit, act-order g_idx, zero+1 quirk) supplies the linear
 * layers of the real tiny-llama-gptq-4bit-32g-actorder checkpoint; the engine keeps the rest
 * (fp16 embeddings, norms, lm_head). The result must match transformers' logits for the same
 * dequantized weights.
 */
class LinearFormatTest {

    private static final System.Logger LOG = System.getLogger(LinearFormatTest.class.getName());
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Dense float weights, as a test double for a real packed-kernel implementation. */
    record Dense(int rows, int cols, float[] w) implements LinearWeights {
        @Override
        public float dot(int r, float[] x, int xo) {
            float s = 0;
            for (int c = 0; c < cols; c++) {
                s += w[r * cols + c] * x[xo + c];
            }
            return s;
        }

        @Override
        public void row(int r, float[] dst, int off) {
            System.arraycopy(w, r * cols, dst, off, cols);
        }

        @Override
        public long byteSize() {
            return 4L * w.length;
        }
    }

    static final class Gptq4 implements LinearFormat {
        int layers;

        @Override
        public String name() {
            return "gptq";
        }

        @Override
        public LinearWeights load(String prefix, int rows, int cols, Function<String, Optional<CheckpointTensor>> tensors)
                throws ModelLoadException {
            CheckpointTensor qweight = tensors.apply(prefix + ".qweight").orElseThrow(
                    () -> new ModelLoadException(prefix + ".qweight is missing", "Download the model again."));
            MemorySegment q = qweight.data();
            MemorySegment z = tensors.apply(prefix + ".qzeros").orElseThrow().data();
            MemorySegment s = tensors.apply(prefix + ".scales").orElseThrow().data();
            MemorySegment g = tensors.apply(prefix + ".g_idx").orElseThrow().data();
            assertEquals(cols / 8, qweight.shape()[0]);
            float[] w = new float[rows * cols];
            for (int i = 0; i < cols; i++) { // input feature
                int group = g.getAtIndex(I32, i);
                for (int o = 0; o < rows; o++) { // output feature
                    int qv = (q.getAtIndex(I32, (long) (i / 8) * rows + o) >>> (4 * (i % 8))) & 0xf;
                    int zv = ((z.getAtIndex(I32, (long) group * (rows / 8) + o / 8) >>> (4 * (o % 8))) & 0xf) + 1;
                    float scale = Float.float16ToFloat(s.getAtIndex(U16, (long) group * rows + o));
                    // AutoGPTQ's torch path multiplies in fp16; the product of an fp16 scale and a
                    // 4-bit integer is exact in float, so rounding it once to fp16 is the same.
                    w[o * cols + i] = Float.float16ToFloat(Float.floatToFloat16(scale * (qv - zv)));
                }
            }
            layers++;
            return new Dense(rows, cols, w);
        }
    }

    @Test
    void gptqLinearLayersThroughTheSpiMatchTransformersOnTheDequantizedWeights() throws Exception {
        Path folder = TestModels.model("tiny-llama-gptq-4bit-32g-actorder");
        Map<String, Object> ref = TestModels.json(folder.resolve("reference.json"));
        int[] input = TestModels.ints(ref.get("input_ids"));
        float[] expected = TestModels.floats(ref.get("dequant_last_logits"));
        Gptq4 format = new Gptq4();
        try (EngineModel m = EngineModel.open(folder, EngineOptions.builder().threads(2).linearFormat(format).build());
                EngineSession s = m.newSession()) {
            assertEquals(14, format.layers);
            assertEquals("GPTQ", m.config().weightType());
            float[] logits = s.forward(input);
            float diff = TestModels.maxAbsDiff(logits, expected);
            LOG.log(System.Logger.Level.INFO, String.format("GPTQ via LinearFormat: max |Δlogit| vs transformers (dequantized) = %.3g", diff));
            assertTrue(diff <= 1e-4, "max |Δlogit| " + diff);
            float[] fp32 = TestModels.floats(ref.get("fp32_last_logits"));
            assertTrue(TestModels.maxAbsDiff(logits, fp32) > 100 * diff, "the quantized model must differ from the fp32 one");
        }
    }

    @Test
    void quantizedCheckpointWithoutAFormatGetsItsOwnAndFormatErrorsPassThrough() throws Exception {
        Path folder = TestModels.model("tiny-llama-gptq-4bit-32g-actorder");
        // No format named: the engine picks GPTQ from quantize_config.json (io.loadstone.engine.quant).
        try (EngineModel m = EngineModel.open(folder, EngineOptions.defaults())) {
            assertEquals("GPTQ-4", m.config().weightType());
        }

        LinearFormat broken = new LinearFormat() {
            @Override
            public String name() {
                return "broken";
            }

            @Override
            public LinearWeights load(String prefix, int rows, int cols, Function<String, Optional<CheckpointTensor>> tensors) {
                return new Dense(rows + 1, cols, new float[(rows + 1) * cols]);
            }
        };
        ModelLoadException wrong = assertThrows(ModelLoadException.class,
                () -> EngineModel.open(folder, EngineOptions.builder().linearFormat(broken).build()));
        assertTrue(wrong.getMessage().contains("config.json requires"), wrong.getMessage());

        // A format that declines every layer: the engine then looks for plain .weight tensors.
        LinearFormat none = new LinearFormat() {
            @Override
            public String name() {
                return "none";
            }

            @Override
            public LinearWeights load(String prefix, int rows, int cols, Function<String, Optional<CheckpointTensor>> tensors) {
                return null;
            }
        };
        ModelFileException missing = assertThrows(ModelFileException.class,
                () -> EngineModel.open(folder, EngineOptions.builder().linearFormat(none).build()));
        assertTrue(missing.getMessage().contains("lacks 14 tensor(s)"), missing.getMessage());
        assertTrue(Arrays.stream(new String[] {"q_proj.weight"}).allMatch(missing.getMessage()::contains));
    }
}
