package io.loadstone.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.engine.json.Json;
import io.loadstone.engine.safetensors.DType;
import io.loadstone.testsupport.SafetensorsWriter;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The GPTQ variants no shared checkpoint covers (2 and 3 bits, group -1, gptq_v2 zeros, a random
 * act-order g_idx, static groups), made here from the trained stories260K-hf-pad192 by
 * round-to-nearest quantization packed exactly as AutoGPTQ packs, next to an F32 copy holding the
 * dequantized weights {@code scale·(q − zero)}. The engine must compute the same logits from both
 * (the F32 copy runs on the plain float kernels, an independent path). The same writer makes the
 * corrupt files that must be refused by name.
 */
class GptqSyntheticTest {

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int[] INPUT = {1, 403, 407, 261, 378, 11, 365, 304, 260, 216, 284, 13};

    @TempDir
    Path dir;

    /** One linear layer quantized: values q[o][i], group of each input, fp16 scales and true zeros per [g][o]. */
    record Quantized(int rows, int cols, int bits, int[][] q, int[] gIdx, int groups, short[][] scales, int[][] zeros) {

        float weight(int o, int i) {
            int g = gIdx[i];
            return Float.float16ToFloat(scales[g][o]) * (q[o][i] - zeros[g][o]);
        }
    }

    static Quantized quantize(float[] w, int rows, int cols, int bits, int group, boolean actOrder, boolean v1, long seed) {
        int size = group <= 0 ? cols : group;
        int groups = (cols + size - 1) / size;
        int[] position = new int[cols];
        for (int i = 0; i < cols; i++) {
            position[i] = i;
        }
        if (actOrder) {
            Random r = new Random(seed);
            for (int i = cols - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = position[i];
                position[i] = position[j];
                position[j] = t;
            }
        }
        int[] gIdx = new int[cols];
        for (int i = 0; i < cols; i++) {
            gIdx[i] = position[i] / size;
        }
        int maxq = (1 << bits) - 1;
        int[][] q = new int[rows][cols];
        short[][] scales = new short[groups][rows];
        int[][] zeros = new int[groups][rows];
        for (int o = 0; o < rows; o++) {
            float[] min = new float[groups];
            float[] max = new float[groups];
            for (int i = 0; i < cols; i++) {
                float v = w[o * cols + i];
                min[gIdx[i]] = Math.min(min[gIdx[i]], v);
                max[gIdx[i]] = Math.max(max[gIdx[i]], v);
            }
            for (int g = 0; g < groups; g++) {
                float s = Math.max((max[g] - min[g]) / maxq, 1e-6f);
                scales[g][o] = Float.floatToFloat16(s);
                // v1 cannot store a zero point of 0 (it stores zero − 1): keep it at least 1, as real ones are.
                zeros[g][o] = Math.max(v1 ? 1 : 0, Math.min(maxq, Math.round(-min[g] / Float.float16ToFloat(scales[g][o]))));
            }
            for (int i = 0; i < cols; i++) {
                int g = gIdx[i];
                int v = Math.round(w[o * cols + i] / Float.float16ToFloat(scales[g][o])) + zeros[g][o];
                q[o][i] = Math.max(0, Math.min(maxq, v));
            }
        }
        return new Quantized(rows, cols, bits, q, gIdx, groups, scales, zeros);
    }

    /** Sets {@code bits} bits of {@code v} at bit {@code bit} of a little-endian stream of words at {@code words[at(k)]}. */
    private static void put(int[] words, int stride, int base, long bit, int bits, int v) {
        int k = (int) (bit >>> 5);
        int off = (int) (bit & 31);
        words[k * stride + base] |= v << off;
        if (off + bits > 32) {
            words[(k + 1) * stride + base] |= v >>> (32 - off);
        }
    }

    /** AutoGPTQ's packing: qweight [in·bits/32, out] along the input, qzeros [groups, out·bits/32] along the output. */
    static void addGptq(List<SafetensorsWriter.Tensor> out, String prefix, Quantized z, boolean v1, boolean withGIdx) {
        int rows = z.rows();
        int cols = z.cols();
        int bits = z.bits();
        int[] qweight = new int[cols * bits / 32 * rows];
        for (int o = 0; o < rows; o++) {
            for (int i = 0; i < cols; i++) {
                put(qweight, rows, o, (long) i * bits, bits, z.q()[o][i]);
            }
        }
        int zw = rows * bits / 32;
        int[] qzeros = new int[z.groups() * zw];
        int mask = (1 << bits) - 1;
        for (int g = 0; g < z.groups(); g++) {
            for (int o = 0; o < rows; o++) {
                put(qzeros, 1, g * zw, (long) o * bits, bits, (z.zeros()[g][o] - (v1 ? 1 : 0)) & mask);
            }
        }
        out.add(ints(prefix + ".qweight", new long[] {cols * bits / 32, rows}, qweight));
        out.add(ints(prefix + ".qzeros", new long[] {z.groups(), zw}, qzeros));
        out.add(new SafetensorsWriter.Tensor(prefix + ".scales", DType.F16, new long[] {z.groups(), rows}, seg -> {
            for (int g = 0; g < z.groups(); g++) {
                for (int o = 0; o < rows; o++) {
                    seg.set(U16, 2L * (g * rows + o), z.scales()[g][o]);
                }
            }
        }));
        if (withGIdx) {
            out.add(ints(prefix + ".g_idx", new long[] {cols}, z.gIdx()));
        }
    }

    static SafetensorsWriter.Tensor ints(String name, long[] shape, int[] v) {
        return new SafetensorsWriter.Tensor(name, DType.I32, shape, seg -> {
            for (int i = 0; i < v.length; i++) {
                seg.set(I32, 4L * i, v[i]);
            }
        });
    }

    static SafetensorsWriter.Tensor floats(String name, long[] shape, float[] v) {
        return new SafetensorsWriter.Tensor(name, DType.F32, shape, seg -> {
            for (int i = 0; i < v.length; i++) {
                seg.set(F32, 4L * i, v[i]);
            }
        });
    }

    /**
     * Writes {@code quant} (GPTQ) and {@code deq} (F32, the dequantized weights) from pad192.
     *
     * @param edit changes the GPTQ tensor list before it is written (corrupt files)
     */
    private void write(int bits, int group, boolean actOrder, boolean v1, boolean staticGroups, Consumer<List<SafetensorsWriter.Tensor>> edit)
            throws Exception {
        Path src = TestModels.model("stories260K-hf-pad192");
        Surgery s = new Surgery(src.resolve("model.safetensors"));
        List<SafetensorsWriter.Tensor> quant = new ArrayList<>();
        List<SafetensorsWriter.Tensor> deq = new ArrayList<>();
        long seed = 7;
        for (String name : s.byOffset()) {
            Map<String, Object> t = s.tensor(name);
            long[] shape = ((List<?>) t.get("shape")).stream().mapToLong(o -> ((Number) o).longValue()).toArray();
            float[] v = new float[(int) ((s.end(name) - s.begin(name)) / 4)];
            ByteBuffer.wrap(s.data, (int) s.begin(name), v.length * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
            if (name.endsWith("_proj.weight")) {
                int rows = (int) shape[0];
                int cols = (int) shape[1];
                Quantized z = quantize(v, rows, cols, bits, group, actOrder, v1, seed++);
                addGptq(quant, name.substring(0, name.length() - ".weight".length()), z, v1, actOrder || seed % 2 == 0);
                float[] w = new float[rows * cols];
                for (int o = 0; o < rows; o++) {
                    for (int i = 0; i < cols; i++) {
                        w[o * cols + i] = z.weight(o, i);
                    }
                }
                deq.add(floats(name, shape, w));
            } else {
                quant.add(floats(name, shape, v));
                deq.add(floats(name, shape, v));
            }
        }
        edit.accept(quant);
        Map<String, Object> config = Json.parseObject(Files.readString(src.resolve("config.json")));
        Files.createDirectories(dir.resolve("deq"));
        Files.writeString(dir.resolve("deq/config.json"), Surgery.toJson(config));
        SafetensorsWriter.write(dir.resolve("deq/model.safetensors"), Map.of("format", "pt"), deq);
        Map<String, Object> q = new LinkedHashMap<>();
        q.put("quant_method", "gptq");
        q.put("bits", (long) bits);
        q.put("group_size", (long) group);
        q.put("desc_act", actOrder);
        q.put("static_groups", staticGroups);
        q.put("sym", false);
        q.put("checkpoint_format", v1 ? "gptq" : "gptq_v2");
        config.put("quantization_config", q);
        Files.createDirectories(dir.resolve("quant"));
        Files.writeString(dir.resolve("quant/config.json"), Surgery.toJson(config));
        SafetensorsWriter.write(dir.resolve("quant/model.safetensors"), Map.of("format", "pt"), quant);
    }

    @ParameterizedTest(name = "{0}-bit, group {1}, act-order {2}, v1 {3}, static groups {4}")
    @CsvSource({
        "2, 32, false, true, false",
        "2, -1, true, false, false",
        "3, 32, true, true, false",
        "3, -1, false, false, false",
        "4, 64, true, false, false",
        "4, 32, false, true, true",
        "8, -1, true, true, false",
        "8, 64, false, false, false",
    })
    void packedLayersComputeTheirDequantizedWeights(int bits, int group, boolean actOrder, boolean v1, boolean staticGroups)
            throws Exception {
        write(bits, group, actOrder, v1, staticGroups, l -> { });
        EngineOptions o = EngineOptions.builder().threads(2).build();
        try (EngineModel quant = EngineModel.open(dir.resolve("quant"), o); EngineModel deq = EngineModel.open(dir.resolve("deq"), o);
                EngineSession a = quant.newSession(); EngineSession b = deq.newSession()) {
            assertTrue(quant.config().weightType().startsWith("GPTQ-" + bits), quant.config().weightType());
            float prefill = TestModels.maxAbsDiff(a.forward(INPUT), b.forward(INPUT));
            float decode = 0;
            for (int t : new int[] {42, 7, 300}) {
                decode = Math.max(decode, TestModels.maxAbsDiff(a.forward(new int[] {t}), b.forward(new int[] {t})));
            }
            assertTrue(prefill < 2e-4 && decode < 2e-4, "max |Δlogit| prefill " + prefill + ", decode " + decode);
        }
    }

    @Test
    void corruptFilesAreRefusedNamingTensorAndFile() throws Exception {
        Path file = dir.resolve("quant/model.safetensors");
        // g_idx pointing past the groups
        write(4, 32, true, true, false, l -> replace(l, "model.layers.1.mlp.up_proj.g_idx", t -> {
            int[] v = new int[64];
            v[5] = 99;
            return ints(t.name(), t.shape(), v);
        }));
        ModelFileException gIdx = assertThrows(ModelFileException.class, () -> EngineModel.open(dir.resolve("quant"), EngineOptions.defaults()));
        assertEquals(file, gIdx.file());
        assertTrue(gIdx.getMessage().contains("'model.layers.1.mlp.up_proj.g_idx' maps input 5 to group 99, outside the 2 groups"),
                gIdx.getMessage());

        // packed at 4 bits, configured as 8
        write(4, 32, false, true, false, l -> { });
        Path config = dir.resolve("quant/config.json");
        Files.writeString(config, Files.readString(config).replace("\"bits\":4", "\"bits\":8"));
        ModelFileException bits = assertThrows(ModelFileException.class, () -> EngineModel.open(dir.resolve("quant"), EngineOptions.defaults()));
        assertEquals(file, bits.file());
        assertTrue(bits.getMessage().contains("'model.layers.0.self_attn.q_proj.qweight' has 8 packed rows for 64 inputs, which is 4 bits "
                + "per weight, but the quantization config says bits 8"), bits.getMessage());

        // scales transposed
        write(4, 32, false, true, false, l -> replace(l, "model.layers.0.mlp.down_proj.scales",
                t -> new SafetensorsWriter.Tensor(t.name(), DType.F16, new long[] {t.shape()[1], t.shape()[0]}, t.fill())));
        ModelFileException shape = assertThrows(ModelFileException.class, () -> EngineModel.open(dir.resolve("quant"), EngineOptions.defaults()));
        assertTrue(shape.getMessage().contains("'model.layers.0.mlp.down_proj.scales' has shape [64, 6] but GPTQ 4-bit (group 32) needs [6, 64]"),
                shape.getMessage());

        // qzeros missing
        write(4, 32, false, true, false, l -> l.removeIf(t -> t.name().equals("model.layers.2.self_attn.k_proj.qzeros")));
        ModelLoadExceptionCheck.assertMessage(() -> EngineModel.open(dir.resolve("quant"), EngineOptions.defaults()),
                "model.layers.2.self_attn.k_proj has qweight but no qzeros");

        // an AWQ folder whose version names no layout
        write(4, 32, false, true, false, l -> { });
        Files.writeString(config, Files.readString(config).replace("\"quant_method\":\"gptq\"", "\"quant_method\":\"awq\",\"version\":\"exllama\""));
        ModelFileException version = assertThrows(ModelFileException.class, () -> EngineModel.open(dir.resolve("quant"), EngineOptions.defaults()));
        assertEquals(config, version.file());
        assertTrue(version.getMessage().contains("version 'exllama' is not an AWQ layout"), version.getMessage());
    }

    private static void replace(List<SafetensorsWriter.Tensor> l, String name,
            java.util.function.UnaryOperator<SafetensorsWriter.Tensor> f) {
        for (int i = 0; i < l.size(); i++) {
            if (l.get(i).name().equals(name)) {
                l.set(i, f.apply(l.get(i)));
                return;
            }
        }
        throw new AssertionError("no tensor " + name);
    }

    /** ModelLoadException (not a file problem) with a message part. */
    private static final class ModelLoadExceptionCheck {
        static void assertMessage(org.junit.jupiter.api.function.Executable e, String part) {
            io.loadstone.api.loader.ModelLoadException x = assertThrows(io.loadstone.api.loader.ModelLoadException.class, e);
            assertTrue(x.getMessage().contains(part), x.getMessage());
        }
    }
}
