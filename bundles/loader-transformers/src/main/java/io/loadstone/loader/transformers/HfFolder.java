package io.loadstone.loader.transformers;

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
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * What a Hugging Face model folder is, judged from {@code config.json} and the first safetensors
 * header only (never the weights), so {@link TransformersLoader#detect} stays cheap. A folder
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
 * @param remoteCode  the {@code auto_map} entry when the model wants its own Python code, or null
 */
record HfFolder(Path folder, JsonObject config, String modelType, String weightType, String format, String quantized,
        String remoteCode) {

    static final String SAFETENSORS = "safetensors";
    static final String PYTORCH_BIN = "pytorch_model.bin";

    /** Architectures the engine runs (its README: llama, mistral, qwen2). */
    static final Set<String> SUPPORTED = Set.of("llama", "mistral", "qwen2");

    /** A safetensors header is at most 100 MB in the reference implementation; larger means damage. */
    private static final long MAX_HEADER = 100L << 20;

    /** Thrown when the folder is not a Hugging Face checkpoint this loader can consider at all. */
    static final class NotHf extends Exception {
        private static final long serialVersionUID = 1L;

        NotHf(String reason) {
            super(reason);
        }
    }

    static HfFolder read(Path folder) throws NotHf {
        if (!Files.isDirectory(folder)) {
            throw new NotHf("not a folder (the Transformers loader reads Hugging Face model folders)");
        }
        Path configFile = folder.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new NotHf("no config.json");
        }
        List<Path> weights;
        List<Path> bins;
        try (Stream<Path> s = Files.list(folder)) {
            List<Path> all = s.sorted().toList();
            weights = all.stream().filter(p -> p.getFileName().toString().endsWith(".safetensors")
                    && !p.getFileName().toString().startsWith("adapter_")).toList();
            // The engine's names: pytorch_model.bin and its shards pytorch_model-0000i-of-0000n.bin.
            bins = all.stream().filter(p -> p.getFileName().toString().startsWith("pytorch_model")
                    && p.getFileName().toString().endsWith(".bin")).toList();
        } catch (IOException e) {
            throw new NotHf("cannot list " + folder + ": " + e.getMessage());
        }
        if (weights.isEmpty() && bins.isEmpty()) {
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
        if (config.has("quantization_config")) {
            quantized = "config.json quantization_config";
        } else if (Files.exists(folder.resolve("quantize_config.json"))) {
            quantized = "quantize_config.json";
        } else if (Files.exists(folder.resolve("quant_config.json"))) {
            quantized = "quant_config.json";
        }
        String remote = null;
        if (config.has("auto_map") && config.get("auto_map").isJsonObject()
                && !config.getAsJsonObject("auto_map").isEmpty()) {
            remote = config.getAsJsonObject("auto_map").toString();
        }
        return weights.isEmpty()
                ? new HfFolder(folder, config, modelType, "unknown", PYTORCH_BIN, quantized, remote)
                : new HfFolder(folder, config, modelType, headerType(weights.getFirst()), SAFETENSORS, quantized, remote);
    }

    /** {@code max_position_embeddings}, or 0 when the config lacks it. */
    int maxPositionEmbeddings() {
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
