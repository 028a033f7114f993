package io.loadstone.loader.engine;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.engine.quant.QuantizationConfig;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * What a Hugging Face model folder is, judged from {@code config.json}, the quantization config
 * files and the first safetensors header only (never the weights), so every engine loader's
 * {@code detect} stays cheap. A folder
 * with only {@code pytorch_model*.bin} (torch.save zips) is accepted too: the engine reads their
 * tensor records without running their pickle; safetensors win when both are present, as in the
 * engine.
 *
 * @param folder      the folder
 * @param config      the parsed {@code config.json}
 * @param modelType   {@code model_type}, or empty
 * @param weightType  stored type of the tensors in the first safetensors file (F32, F16, BF16, "mixed");
 *                    "unknown" for .bin weights (their types are in the pickle, read at load)
 * @param format      {@link #SAFETENSORS} or {@link #PYTORCH_BIN}: which files the engine will read
 * @param quantized   which file says the checkpoint is quantized, or null
 * @param quant       what that file says (method, bits, group size, act-order); {@link Quant#NONE} if nothing
 * @param remoteCode  the {@code auto_map} entry when the model wants its own Python code, or null
 */
public record HfFolder(Path folder, JsonObject config, String modelType, String weightType, String format,
        String quantized, Quant quant, String remoteCode) {

    public static final String SAFETENSORS = "safetensors";
    public static final String PYTORCH_BIN = "pytorch_model.bin";
    /** {@link #weightType()} of safetensors holding packed quantized layers ({@code qweight}, {@code q_weight}). */
    public static final String PACKED = "packed";
    /** Old GPTQ-for-LLaMa checkpoints: one torch.save file such as {@code llama-7b-4bit-128g.pt}. */
    public static final String PT = ".pt";

    /** Architectures the engine runs (its README: llama, mistral, qwen2). */
    public static final Set<String> SUPPORTED = Set.of("llama", "mistral", "qwen2");

    /**
     * A checkpoint's quantization as its files state it, for detection and option defaults only
     * (the engine reads the format itself at load).
     *
     * @param method    lower-case {@code quant_method}: gptq, awq, exl2, … ("" when not quantized)
     * @param bits      bits per weight (EXL2: the average), 0 when unstated
     * @param groupSize group size, -1 per column, 0 when unstated
     * @param descAct   GPTQ act-order
     */
    public record Quant(String method, double bits, int groupSize, boolean descAct) {
        public static final Quant NONE = new Quant("", 0, 0, false);

        public boolean isGptq() {
            return method.equals("gptq");
        }

        /** Bits as a whole number for messages ("4-bit"); EXL2's average keeps its decimals. */
        public String describe() {
            String b = bits == Math.rint(bits) ? Integer.toString((int) bits) : Double.toString(bits);
            return method.toUpperCase(java.util.Locale.ROOT) + (bits > 0 ? " " + b + "-bit" : "")
                    // EXL2 chooses its groups per layer; a group_size there means nothing.
                    + (method.equals("exl2") ? "" : groupSize > 0 ? " group " + groupSize
                            : groupSize == -1 ? " per column" : "")
                    + (descAct ? " act-order" : "");
        }
    }

    /** A safetensors header is at most 100 MB in the reference implementation; larger means damage. */
    private static final long MAX_HEADER = 100L << 20;

    /** Thrown when the folder is not a Hugging Face checkpoint this loader can consider at all. */
    public static final class NotHf extends Exception {
        private static final long serialVersionUID = 1L;

        NotHf(String reason) {
            super(reason);
        }
    }

    public static HfFolder read(Path folder) throws NotHf {
        if (!Files.isDirectory(folder)) {
            throw new NotHf("not a folder (this loader reads Hugging Face model folders)");
        }
        Path configFile = folder.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new NotHf("no config.json");
        }
        List<Path> weights;
        List<Path> bins;
        List<Path> pts;
        try (Stream<Path> s = Files.list(folder)) {
            List<Path> all = s.sorted().toList();
            weights = all.stream().filter(p -> p.getFileName().toString().endsWith(".safetensors")
                    && !p.getFileName().toString().startsWith("adapter_")).toList();
            // The engine's names: pytorch_model.bin and its shards pytorch_model-0000i-of-0000n.bin.
            bins = all.stream().filter(p -> p.getFileName().toString().startsWith("pytorch_model")
                    && p.getFileName().toString().endsWith(".bin")).toList();
            pts = all.stream().filter(p -> p.getFileName().toString().endsWith(".pt")).toList();
        } catch (IOException e) {
            throw new NotHf("cannot list " + folder + ": " + e.getMessage());
        }
        if (weights.isEmpty() && bins.isEmpty() && pts.isEmpty()) {
            throw new NotHf("no weights: neither .safetensors nor pytorch_model*.bin files");
        }
        JsonObject config;
        try (Reader r = Files.newBufferedReader(configFile, StandardCharsets.UTF_8)) {
            JsonElement e = JsonParser.parseReader(r);
            if (!e.isJsonObject()) {
                throw new NotHf(configFile + " is not a JSON object");
            }
            config = e.getAsJsonObject();
        } catch (IOException | JsonParseException e) {
            throw new NotHf(configFile + " is not valid JSON: " + e.getMessage());
        }
        String modelType = config.has("model_type") && config.get("model_type").isJsonPrimitive()
                ? config.get("model_type").getAsString() : "";
        String quantized = null;
        Quant quant = Quant.NONE;
        try {
            Optional<QuantizationConfig> q = QuantizationConfig.read(folder);
            if (q.isPresent()) {
                QuantizationConfig c = q.get();
                String file = c.source().getFileName().toString();
                quantized = file.equals("config.json") ? "config.json quantization_config" : file;
                quant = new Quant(c.method(), c.averageBits(), c.groupSize(), c.descAct());
            }
        } catch (ModelLoadException e) {
            throw new NotHf(e.getMessage());
        }
        String remote = null;
        if (config.has("auto_map") && config.get("auto_map").isJsonObject()
                && !config.getAsJsonObject("auto_map").isEmpty()) {
            remote = config.getAsJsonObject("auto_map").toString();
        }
        if (weights.isEmpty() && bins.isEmpty()) {
            return new HfFolder(folder, config, modelType, "unknown", PT, quantized, quant, remote);
        }
        return weights.isEmpty()
                ? new HfFolder(folder, config, modelType, "unknown", PYTORCH_BIN, quantized, quant, remote)
                : new HfFolder(folder, config, modelType, headerType(weights.getFirst()), SAFETENSORS, quantized,
                        quant, remote);
    }

    /** {@code max_position_embeddings}, or 0 when the config lacks it. */
    public int maxPositionEmbeddings() {
        JsonElement e = config.get("max_position_embeddings");
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber() ? e.getAsInt() : 0;
    }

    /** The tensor type(s) of one safetensors file from its JSON header; "unknown" when unreadable. */
    private static String headerType(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            while (len.hasRemaining() && ch.read(len) >= 0) {
                // read the 8-byte header length
            }
            long n = len.flip().remaining() == 8 ? len.getLong() : -1;
            if (n <= 0 || n > MAX_HEADER || n > ch.size() - 8) {
                return "unknown";
            }
            ByteBuffer header = ByteBuffer.allocate((int) n);
            while (header.hasRemaining() && ch.read(header) >= 0) {
                // read the whole header
            }
            JsonObject h = JsonParser.parseString(new String(header.array(), StandardCharsets.UTF_8))
                    .getAsJsonObject();
            TreeSet<String> types = new TreeSet<>();
            for (var e : h.entrySet()) {
                if (e.getKey().endsWith(".qweight") || e.getKey().endsWith(".q_weight")) {
                    return PACKED;
                }
                if (!e.getKey().equals("__metadata__") && e.getValue().isJsonObject()
                        && e.getValue().getAsJsonObject().has("dtype")) {
                    types.add(e.getValue().getAsJsonObject().get("dtype").getAsString());
                }
            }
            return types.isEmpty() ? "unknown" : types.size() == 1 ? types.first() : "mixed";
        } catch (IOException | RuntimeException e) {
            // detect() only describes; load() lets the engine name the exact damage.
            return "unknown";
        }
    }
}
