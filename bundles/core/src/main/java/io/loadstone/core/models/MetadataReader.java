package io.loadstone.core.models;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import io.loadstone.api.runtime.ModelMetadata;
import io.loadstone.gguf.GgufException;
import io.loadstone.gguf.GgufFile;

/**
 * Reads what a model's files say without loading weights: GGUF headers (validated by
 * the gguf bundle), {@code config.json}, {@code quantize_config.json} (GPTQ),
 * {@code quant_config.json} (AWQ), {@code tokenizer_config.json}. Files first, names
 * second: a {@code -4bit-128g} name only fills in what no file says.
 */
public final class MetadataReader {

    private static final Pattern BITS = Pattern.compile("(?i)(?:^|[-_.])(\\d)bit(?:s)?(?:$|[-_.])");
    private static final Pattern GROUP = Pattern.compile("(?i)(?:^|[-_.])(\\d{2,4})g(?:$|[-_.])");

    private MetadataReader() {
    }

    /** Metadata of a model file or folder; unreadable parts are reported in {@code extra.problem}. */
    public static ModelMetadata read(Path model) {
        try {
            Optional<Path> gguf = firstGguf(model);
            if (gguf.isPresent()) {
                return fromGguf(gguf.get());
            }
            if (Files.isDirectory(model)) {
                return fromFolder(model);
            }
            return problem("not a model file");
        } catch (GgufException e) {
            return problem(e.getMessage() + (e.fix().isEmpty() ? "" : " " + e.fix()));
        } catch (IOException | RuntimeException e) {
            return problem(model.getFileName() + ": " + e.getMessage());
        }
    }

    private static ModelMetadata problem(String why) {
        return new ModelMetadata("", "", 0, 0, 1, "", 0, 0, false, "", Map.of("problem", why));
    }

    /** The GGUF to read for a model: the file itself, or the first (part 1 of a split) GGUF in the folder. */
    public static Optional<Path> firstGguf(Path model) throws IOException {
        if (Files.isRegularFile(model)) {
            return model.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".gguf") ? Optional.of(model)
                    : Optional.empty();
        }
        if (!Files.isDirectory(model)) {
            return Optional.empty();
        }
        Path best = null;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(model, "*.{gguf,GGUF}")) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (n.matches("(?i).*-\\d{5}-of-\\d{5}\\.gguf") && !n.matches("(?i).*-00001-of-\\d{5}\\.gguf")) {
                    continue;
                }
                if (best == null || ModelFolder.naturalCompare(n, best.getFileName().toString()) < 0) {
                    best = p;
                }
            }
        }
        return Optional.ofNullable(best);
    }

    private static ModelMetadata fromGguf(Path file) throws IOException {
        GgufFile g = GgufFile.read(file);
        String arch = g.architecture();
        double compress = 1;
        Optional<String> scalingType = g.string(arch + ".rope.scaling.type");
        if (scalingType.isPresent() && scalingType.get().equals("linear")) {
            compress = g.number(arch + ".rope.scaling.factor").orElse(1);
        }
        Map<String, Object> extra = new LinkedHashMap<>();
        extra.put("file", file.getFileName().toString());
        extra.put("parameters", g.parameterCount());
        g.string("general.name").ifPresent(n -> extra.put("name", n));
        return new ModelMetadata(g.describe(), arch, g.contextLength().orElse(0), g.ropeFreqBase().orElse(0),
                compress, "", 0, 0, false, g.chatTemplate().orElse(""), extra);
    }

    private static ModelMetadata fromFolder(Path dir) throws IOException {
        JsonObject config = json(dir.resolve("config.json"));
        String arch = str(config, "model_type");
        long ctx = num(config, "max_position_embeddings", 0).longValue();
        double theta = num(config, "rope_theta", 0).doubleValue();
        double compress = 1;
        if (config.has("rope_scaling") && config.get("rope_scaling").isJsonObject()) {
            JsonObject rs = config.getAsJsonObject("rope_scaling");
            String type = str(rs, "type").isEmpty() ? str(rs, "rope_type") : str(rs, "type");
            if (type.equals("linear")) {
                compress = num(rs, "factor", 1).doubleValue();
            }
        }
        String quant = "";
        int bits = 0;
        int group = 0;
        boolean desc = false;
        if (config.has("quantization_config") && config.get("quantization_config").isJsonObject()) {
            JsonObject q = config.getAsJsonObject("quantization_config");
            quant = str(q, "quant_method").toLowerCase(Locale.ROOT);
            bits = num(q, "bits", num(q, "w_bit", 0)).intValue();
            group = num(q, "group_size", num(q, "q_group_size", 0)).intValue();
            desc = bool(q, "desc_act");
        }
        JsonObject gptq = json(dir.resolve("quantize_config.json"));
        if (!gptq.isEmpty()) {
            quant = quant.isEmpty() ? "gptq" : quant;
            bits = bits == 0 ? num(gptq, "bits", 0).intValue() : bits;
            group = group == 0 ? num(gptq, "group_size", 0).intValue() : group;
            desc = desc || bool(gptq, "desc_act");
        }
        JsonObject awq = json(dir.resolve("quant_config.json"));
        if (!awq.isEmpty()) {
            quant = quant.isEmpty() ? "awq" : quant;
            bits = bits == 0 ? num(awq, "w_bit", num(awq, "bits", 0)).intValue() : bits;
            group = group == 0 ? num(awq, "q_group_size", num(awq, "group_size", 0)).intValue() : group;
        }
        // Old GPTQ folders say nothing in their files: fall back to the name (TheBloke's -4bit-128g).
        String name = dir.getFileName().toString();
        if (bits == 0) {
            Matcher m = BITS.matcher(name);
            if (m.find()) {
                bits = Integer.parseInt(m.group(1));
            }
        }
        if (group == 0) {
            Matcher m = GROUP.matcher(name);
            if (m.find()) {
                group = Integer.parseInt(m.group(1));
            }
        }
        JsonObject tok = json(dir.resolve("tokenizer_config.json"));
        String template = tok.has("chat_template") && tok.get("chat_template").isJsonPrimitive()
                ? tok.get("chat_template").getAsString() : "";
        String format = config.isEmpty() ? "folder without config.json"
                : "Hugging Face " + (arch.isEmpty() ? "model" : arch) + (quant.isEmpty() ? "" : ", " + quant
                        + (bits > 0 ? " " + bits + "-bit" : "") + (group > 0 ? " group " + group : ""));
        return new ModelMetadata(format, arch, ctx, theta, compress, quant, bits, group, desc, template, Map.of());
    }

    private static JsonObject json(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return new JsonObject();
        }
        try {
            JsonElement e = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
            return e.isJsonObject() ? e.getAsJsonObject() : new JsonObject();
        } catch (RuntimeException e) {
            throw new IOException(file.getFileName() + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    private static String str(JsonObject o, String key) {
        JsonElement e = o.get(key);
        return e != null && e.isJsonPrimitive() ? e.getAsString() : "";
    }

    private static Number num(JsonObject o, String key, Number dflt) {
        JsonElement e = o.get(key);
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber() ? e.getAsNumber() : dflt;
    }

    private static boolean bool(JsonObject o, String key) {
        JsonElement e = o.get(key);
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isBoolean() && e.getAsBoolean();
    }
}
