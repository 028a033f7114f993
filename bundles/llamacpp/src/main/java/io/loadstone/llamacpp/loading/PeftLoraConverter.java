package io.loadstone.llamacpp.loading;

import java.io.IOException;
import java.io.Reader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.gguf.GgmlType;
import io.loadstone.gguf.GgufFile;
import io.loadstone.gguf.GgufTensor;
import io.loadstone.gguf.GgufWriter;

/**
 * Turns a PEFT LoRA adapter folder (what text-generation-webui keeps in {@code loras/}:
 * {@code adapter_config.json} + {@code adapter_model.safetensors}) into the GGUF LoRA
 * format llama.cpp's {@code llama_adapter_lora_init} reads, for a Llama-architecture base
 * model. It does what llama.cpp's {@code convert_lora_to_gguf.py} does for these models:
 * renames the tensors, keeps A as {@code [r, in]} and B as {@code [out, r]} (ggml
 * {@code ne = [in, r]} and {@code [r, out]}), reorders the rows of the q/k B matrices the
 * way the base model's q/k weights were reordered for llama.cpp's RoPE, and stores
 * {@code lora_alpha} so llama.cpp scales by alpha/r (alpha*sqrt(r) for rsLoRA).
 *
 * <p>Everything is checked in Java before llama.cpp sees the result: the safetensors header and
 * offsets, dtypes, that A and B form a pair, that every value is finite, and that each update has
 * the shape of the base model's weight it adds to (an adapter trained for another model is
 * refused here, naming the tensor, both shapes and the hidden sizes).
 */
public final class PeftLoraConverter {

    /** Changes when the output for the same input changes (cached conversions are then redone). */
    public static final int FORMAT = 2;

    private static final Pattern KEY = Pattern.compile(
            "base_model\\.model\\.model\\.layers\\.(\\d+)\\.(self_attn|mlp)\\.(\\w+)\\.lora_([AB])\\.weight");

    private static final Map<String, String> MODULES = Map.of("q_proj", "attn_q", "k_proj", "attn_k", "v_proj",
            "attn_v", "o_proj", "attn_output", "gate_proj", "ffn_gate", "up_proj", "ffn_up", "down_proj", "ffn_down");

    private PeftLoraConverter() {
    }

    /** One tensor of a safetensors file. */
    private record Entry(String dtype, long[] shape, long begin, long end) {
        long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    /**
     * Converts {@code peftDir} for {@code base} and writes the GGUF adapter to {@code out}.
     *
     * @throws ModelLoadException when the folder is not a PEFT LoRA this converter understands,
     *                            naming the file and what is wrong
     */
    public static void convert(Path peftDir, GgufFile base, Path out) throws ModelLoadException {
        Path configFile = peftDir.resolve("adapter_config.json");
        Path weights = peftDir.resolve("adapter_model.safetensors");
        if (!Files.isRegularFile(configFile)) {
            throw new ModelLoadException(peftDir + " has no adapter_config.json, so it is not a PEFT LoRA adapter.",
                    "Pick a LoRA folder saved by PEFT (save_pretrained).");
        }
        if (!Files.isRegularFile(weights)) {
            String hint = Files.isRegularFile(peftDir.resolve("adapter_model.bin"))
                    ? "It has adapter_model.bin (PyTorch pickle), which is not read for safety reasons; "
                            + "re-save the adapter with safetensors."
                    : "Download the adapter's adapter_model.safetensors.";
            throw new ModelLoadException(peftDir + " has no adapter_model.safetensors.", hint);
        }
        if (!base.architecture().equals("llama")) {
            throw new ModelLoadException("Converting PEFT LoRA adapters is supported for Llama-architecture GGUF "
                    + "models only; " + base.path().getFileName() + " is '" + base.architecture() + "'.",
                    "Use a LoRA already converted to GGUF (llama.cpp's convert_lora_to_gguf.py).");
        }
        JsonObject config = readJson(configFile);
        int rank = intValue(config, "r", configFile);
        double alpha;
        try {
            alpha = config.has("lora_alpha") ? config.get("lora_alpha").getAsDouble() : rank;
        } catch (RuntimeException e) {
            throw new ModelLoadException(configFile + ": lora_alpha is not a number.",
                    "Use an adapter_config.json written by PEFT.", e);
        }
        if (rank <= 0 || !Double.isFinite(alpha)) {
            throw new ModelLoadException(configFile + " has r=" + rank + ", lora_alpha=" + alpha + ".",
                    "Use an adapter_config.json written by PEFT (r of 1 or more).");
        }
        if (bool(config, "use_rslora")) {
            alpha = alpha * Math.sqrt(rank); // llama.cpp scales by alpha/r; rsLoRA means alpha/sqrt(r)
        }
        if (bool(config, "fan_in_fan_out")) {
            throw new ModelLoadException(configFile + " sets fan_in_fan_out (GPT-2 style Conv1D layers), which "
                    + "Llama models do not have.", "Use an adapter trained for this model.");
        }
        if (config.has("modules_to_save") && config.get("modules_to_save").isJsonArray()
                && !config.getAsJsonArray("modules_to_save").isEmpty()) {
            throw new ModelLoadException(configFile + " also saves whole modules (modules_to_save), which a llama.cpp "
                    + "LoRA cannot carry.", "Use an adapter without modules_to_save.");
        }
        long nHead = base.integer("llama.attention.head_count").orElseThrow(() -> new ModelLoadException(
                base.path().getFileName() + " lacks llama.attention.head_count.", "Use a complete GGUF file."));
        long nHeadKv = base.integer("llama.attention.head_count_kv").orElse(nHead);

        try (FileChannel ch = FileChannel.open(weights, StandardOpenOption.READ)) {
            long dataStart;
            Map<String, Entry> entries = new TreeMap<>();
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0, weights);
            long headerLen = len.flip().getLong();
            if (headerLen <= 0 || headerLen > 100_000_000 || 8 + headerLen > ch.size()) {
                throw new ModelLoadException(weights + " is not a safetensors file (header length " + headerLen + ").",
                        "Download the adapter again.");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, 8, weights);
            dataStart = 8 + headerLen;
            JsonObject header;
            try {
                header = JsonParser.parseString(new String(hb.array(), StandardCharsets.UTF_8)).getAsJsonObject();
            } catch (JsonParseException | IllegalStateException e) {
                throw new ModelLoadException(weights + " has an unreadable safetensors header: " + e.getMessage(),
                        "Download the adapter again.", e);
            }
            for (Map.Entry<String, JsonElement> e : header.entrySet()) {
                if (e.getKey().equals("__metadata__")) {
                    continue;
                }
                Entry en;
                try {
                    JsonObject t = e.getValue().getAsJsonObject();
                    var shapeJson = t.getAsJsonArray("shape");
                    long[] shape = new long[shapeJson.size()];
                    for (int i = 0; i < shape.length; i++) {
                        shape[i] = shapeJson.get(i).getAsLong();
                        if (shape[i] <= 0 || shape[i] > Integer.MAX_VALUE) {
                            throw new IllegalStateException("dimension " + shape[i]);
                        }
                    }
                    var off = t.getAsJsonArray("data_offsets");
                    en = new Entry(t.get("dtype").getAsString(), shape, off.get(0).getAsLong(),
                            off.get(1).getAsLong());
                } catch (RuntimeException x) { // missing keys, wrong JSON types, bad numbers
                    throw new ModelLoadException(weights + " has a malformed safetensors header entry for "
                            + e.getKey() + " (" + x.getMessage() + ").", "Download the adapter again.", x);
                }
                if (en.begin() < 0 || en.end() < en.begin() || dataStart + en.end() > ch.size()) {
                    throw new ModelLoadException(weights + ": tensor " + e.getKey() + " lies outside the file "
                            + "(truncated download?).", "Download the adapter again.");
                }
                entries.put(e.getKey(), en);
            }

            GgufWriter w = new GgufWriter().putString("general.architecture", "llama")
                    .putString("general.type", "adapter").putString("adapter.type", "lora")
                    .putFloat32("adapter.lora.alpha", (float) alpha)
                    .putString("general.name", peftDir.getFileName().toString());
            // llama.cpp wants each lora_a followed by its lora_b; order by layer, module, A/B.
            Map<String, String[]> pairs = new TreeMap<>();
            List<String> unknown = new ArrayList<>();
            for (String key : entries.keySet()) {
                Matcher m = KEY.matcher(key);
                if (!m.matches() || !MODULES.containsKey(m.group(3))) {
                    unknown.add(key);
                    continue;
                }
                String name = "blk." + m.group(1) + "." + MODULES.get(m.group(3)) + ".weight";
                String[] p = pairs.computeIfAbsent(String.format("%05d.%s", Integer.parseInt(m.group(1)), name),
                        k -> new String[3]);
                p[0] = name;
                p[m.group(4).equals("A") ? 1 : 2] = key;
            }
            if (!unknown.isEmpty()) {
                throw new ModelLoadException(weights + " has tensors this converter does not know: "
                        + unknown.subList(0, Math.min(5, unknown.size())) + (unknown.size() > 5 ? " ..." : "") + ".",
                        "Only LoRA on q/k/v/o and gate/up/down projections of Llama models is supported.");
            }
            if (pairs.isEmpty()) {
                throw new ModelLoadException(weights + " holds no LoRA tensors.", "Pick a PEFT LoRA adapter.");
            }
            for (String[] p : pairs.values()) {
                if (p[1] == null || p[2] == null) {
                    throw new ModelLoadException(weights + ": " + p[0] + " has only one of lora_A and lora_B.",
                            "Download the adapter again.");
                }
                Entry a = entries.get(p[1]);
                Entry b = entries.get(p[2]);
                if (a.shape().length != 2 || b.shape().length != 2 || a.shape()[0] != b.shape()[1]) {
                    throw new ModelLoadException(weights + ": " + p[0] + " has lora_A " + java.util.Arrays.toString(
                            a.shape()) + " and lora_B " + java.util.Arrays.toString(b.shape())
                            + ", which do not form a low-rank pair.", "Use an adapter saved by PEFT.");
                }
                checkFitsBase(peftDir, config, base, p[0], a.shape(), b.shape());
                float[] av = floats(ch, dataStart, a, p[1], weights);
                float[] bv = floats(ch, dataStart, b, p[2], weights);
                if (p[0].contains(".attn_q.")) {
                    bv = permuteRows(bv, (int) b.shape()[0], (int) b.shape()[1], (int) nHead, p[0]);
                } else if (p[0].contains(".attn_k.")) {
                    bv = permuteRows(bv, (int) b.shape()[0], (int) b.shape()[1], (int) nHeadKv, p[0]);
                }
                // ggml dims are the torch shape reversed: A [r, in] -> ne [in, r]; B [out, r] -> ne [r, out].
                w.addTensor(p[0] + ".lora_a", GgmlType.F32, new long[] {a.shape()[1], a.shape()[0]}, bytes(av));
                w.addTensor(p[0] + ".lora_b", GgmlType.F32, new long[] {b.shape()[1], b.shape()[0]}, bytes(bv));
            }
            w.write(out);
        } catch (IOException e) {
            throw new ModelLoadException("Cannot convert the LoRA adapter " + peftDir + ": " + e.getMessage(),
                    "Check that the folder is readable and the target is writable.", e);
        }
    }

    /**
     * The update B·A must have the shape of the base weight it is added to: A {@code [r, in]},
     * B {@code [out, r]}, the base weight ggml {@code ne = [in, out]}. llama.cpp checks this too,
     * but only after reading the file natively; here the message can say what went wrong.
     */
    private static void checkFitsBase(Path peftDir, JsonObject config, GgufFile base, String name, long[] a, long[] b)
            throws ModelLoadException {
        String model = base.path().getFileName().toString();
        String trainedFor = config.has("base_model_name_or_path") && config.get("base_model_name_or_path")
                .isJsonPrimitive() ? " (its adapter_config.json names base_model_name_or_path="
                        + config.get("base_model_name_or_path").getAsString() + ")" : "";
        String fix = "Use a LoRA trained on this model's base model" + trainedFor + ", or load the model it was "
                + "trained for.";
        long hidden = base.integer(base.architecture() + ".embedding_length").orElse(-1);
        java.util.Optional<GgufTensor> t = base.tensor(name);
        if (t.isEmpty()) {
            long layers = base.integer(base.architecture() + ".block_count").orElse(-1);
            throw new ModelLoadException("The LoRA adapter " + peftDir + " was made for another model: it changes "
                    + name + ", which " + model + " does not have (" + layers + " layers).", fix);
        }
        long[] ne = t.get().dims();
        if (ne.length != 2 || ne[0] != a[1] || ne[1] != b[0]) {
            String baseShape = ne.length == 2 ? ne[1] + "x" + ne[0] : java.util.Arrays.toString(ne);
            throw new ModelLoadException("The LoRA adapter " + peftDir + " was made for another model: its update of "
                    + name + " is " + b[0] + "x" + a[1] + " (lora_A " + java.util.Arrays.toString(a) + ", lora_B "
                    + java.util.Arrays.toString(b) + ") but that weight is " + baseShape + " in " + model
                    + " (hidden size " + hidden + ").", fix);
        }
    }

    /**
     * llama.cpp's q/k row order (convert_hf_to_gguf.py {@code LlamaModel.permute}): within each
     * head, the rows of the first and second half are interleaved, for its RoPE layout.
     */
    public static float[] permuteRows(float[] w, int rows, int cols, int heads, String name) throws ModelLoadException {
        if (heads <= 0 || rows % (2 * heads) != 0) {
            throw new ModelLoadException(name + ": " + rows + " rows cannot be split into " + heads + " heads.",
                    "Use an adapter trained for this model.");
        }
        int half = rows / heads / 2;
        float[] out = new float[w.length];
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < half; j++) {
                for (int k = 0; k < 2; k++) {
                    int to = h * 2 * half + j * 2 + k;
                    int from = h * 2 * half + k * half + j;
                    System.arraycopy(w, from * cols, out, to * cols, cols);
                }
            }
        }
        return out;
    }

    private static float[] floats(FileChannel ch, long dataStart, Entry e, String name, Path file)
            throws IOException, ModelLoadException {
        int width = switch (e.dtype()) {
            case "F32" -> 4;
            case "F16", "BF16" -> 2;
            default -> throw new ModelLoadException(file + ": tensor " + name + " has dtype " + e.dtype()
                    + "; LoRA tensors must be F32, F16 or BF16.", "Re-save the adapter in one of those.");
        };
        long n = e.elements();
        if (n * width != e.end() - e.begin() || n > Integer.MAX_VALUE / 4) {
            throw new ModelLoadException(file + ": tensor " + name + " has " + (e.end() - e.begin())
                    + " bytes for shape " + java.util.Arrays.toString(e.shape()) + ".", "Download the adapter again.");
        }
        ByteBuffer b = ByteBuffer.allocate((int) (n * width)).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, b, dataStart + e.begin(), file);
        b.flip();
        float[] out = new float[(int) n];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (e.dtype()) {
                case "F32" -> b.getFloat();
                case "F16" -> Float.float16ToFloat(b.getShort());
                default -> Float.intBitsToFloat((b.getShort() & 0xFFFF) << 16);
            };
            if (!Float.isFinite(out[i])) {
                throw new ModelLoadException(file + ": tensor " + name + " holds " + out[i] + " at element " + i
                        + " (a damaged file, or a training run that diverged).", "Download the adapter again.");
            }
        }
        return out;
    }

    private static byte[] bytes(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos, Path file) throws IOException {
        long p = pos;
        while (b.hasRemaining()) {
            int n = ch.read(b, p);
            if (n < 0) {
                throw new IOException(file + " ends early (truncated download?)");
            }
            p += n;
        }
    }

    private static JsonObject readJson(Path file) throws ModelLoadException {
        try (Reader r = Files.newBufferedReader(file)) {
            return JsonParser.parseReader(r).getAsJsonObject();
        } catch (IOException | JsonParseException | IllegalStateException e) {
            throw new ModelLoadException("Cannot read " + file + ": " + e.getMessage(), "Check that it is valid JSON.",
                    e);
        }
    }

    private static int intValue(JsonObject o, String key, Path file) throws ModelLoadException {
        if (!o.has(key) || !o.get(key).isJsonPrimitive()) {
            throw new ModelLoadException(file + " has no '" + key + "'.",
                    "Use an adapter_config.json written by PEFT.");
        }
        try {
            return o.get(key).getAsInt();
        } catch (RuntimeException e) {
            throw new ModelLoadException(file + ": '" + key + "' is not a whole number.",
                    "Use an adapter_config.json written by PEFT.", e);
        }
    }

    private static boolean bool(JsonObject o, String key) {
        return o.has(key) && o.get(key).isJsonPrimitive() && o.get(key).getAsJsonPrimitive().isBoolean()
                && o.get(key).getAsBoolean();
    }
}
