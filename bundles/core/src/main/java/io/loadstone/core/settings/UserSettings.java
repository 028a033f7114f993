package io.loadstone.core.settings;

import java.io.IOException;
import java.io.Reader;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

/**
 * Per-model saved settings in {@code <models>/config-user.json}: {@code {"model name":
 * {"loader": "llama.cpp", "n_ctx": 4096, ...}}}. A text-generation-webui
 * {@code config-user.yaml} in the same folder is read too (never written), so users
 * keep their settings: its keys are regexes ({@code "TheBloke_Llama-2-13B-GGUF$"}) matched,
 * lower-cased, against the start of the model name, as the Python original does. Our
 * own file wins where both have a value.
 */
public final class UserSettings {

    private static final Logger LOG = System.getLogger(UserSettings.class.getName());
    public static final String JSON = "config-user.json";
    public static final String YAML = "config-user.yaml";

    private final Path dir;
    private final Gson gson = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    public UserSettings(Path modelsDir) {
        this.dir = modelsDir;
    }

    public Path file() {
        return dir.resolve(JSON);
    }

    /** Saved values for a model: yaml matches in file order, then the json entry. May include "loader". */
    public synchronized Map<String, Object> saved(String model, List<String> sources) {
        Map<String, Object> out = new LinkedHashMap<>();
        Map<String, Object> yaml = readYaml();
        String lower = model.toLowerCase(Locale.ROOT);
        for (Map.Entry<String, Object> e : yaml.entrySet()) {
            if (!(e.getValue() instanceof Map<?, ?> values)) {
                continue;
            }
            try {
                if (Pattern.compile(e.getKey().toLowerCase(Locale.ROOT)).matcher(lower).lookingAt()) {
                    values.forEach((k, v) -> {
                        // The Python UI stores empty dropdowns as the string 'None'.
                        if (v != null && !"None".equals(v)) {
                            out.put(String.valueOf(k), v);
                        }
                    });
                    sources.add("imported from " + YAML + " (" + e.getKey() + ")");
                }
            } catch (PatternSyntaxException ex) {
                LOG.log(Level.WARNING, YAML + ": key '" + e.getKey() + "' is not a valid pattern, skipped");
            }
        }
        JsonObject json = readJson();
        if (json.has(model) && json.get(model).isJsonObject()) {
            for (Map.Entry<String, JsonElement> e : json.getAsJsonObject(model).entrySet()) {
                Object v = plain(e.getValue());
                if (v != null) {
                    out.put(e.getKey(), v);
                }
            }
            sources.add("saved in " + JSON);
        }
        return out;
    }

    /** Writes one model's entry; the file is replaced atomically so a crash never leaves half of it. */
    public synchronized Path save(String model, String loader, Map<String, ?> options) throws IOException {
        JsonObject json = readJson();
        JsonObject entry = new JsonObject();
        entry.addProperty("loader", loader);
        options.forEach((k, v) -> {
            if (v instanceof Number n) {
                entry.addProperty(k, n);
            } else if (v instanceof Boolean b) {
                entry.addProperty(k, b);
            } else if (v != null) {
                entry.addProperty(k, v.toString());
            }
        });
        json.add(model, entry);
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + JSON + ".tmp");
        Files.writeString(tmp, gson.toJson(json) + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, file(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return file();
    }

    private JsonObject readJson() {
        Path f = file();
        if (!Files.isRegularFile(f)) {
            return new JsonObject();
        }
        try {
            JsonElement e = JsonParser.parseString(Files.readString(f, StandardCharsets.UTF_8));
            if (e.isJsonObject()) {
                return e.getAsJsonObject();
            }
            LOG.log(Level.WARNING, f + " is not a JSON object; ignoring it (fix or delete it)");
        } catch (IOException | RuntimeException ex) {
            LOG.log(Level.WARNING, f + " cannot be read (" + ex.getMessage() + "); ignoring it (fix or delete it)");
        }
        return new JsonObject();
    }

    private Map<String, Object> readYaml() {
        Path f = dir.resolve(YAML);
        if (!Files.isRegularFile(f)) {
            return Map.of();
        }
        try (Reader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
            // SafeConstructor: plain data only, never arbitrary Java objects from a file.
            Object doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(r);
            if (doc instanceof Map<?, ?> m) {
                Map<String, Object> out = new LinkedHashMap<>();
                m.forEach((k, v) -> out.put(String.valueOf(k), v));
                return out;
            }
        } catch (IOException | RuntimeException ex) {
            LOG.log(Level.WARNING, f + " cannot be read (" + ex.getMessage() + "); its settings are not imported");
        }
        return Map.of();
    }

    private static Object plain(JsonElement e) {
        if (!e.isJsonPrimitive()) {
            return null;
        }
        JsonPrimitive p = e.getAsJsonPrimitive();
        if (p.isBoolean()) {
            return p.getAsBoolean();
        }
        if (p.isNumber()) {
            double d = p.getAsDouble();
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? (Object) (long) d : (Object) d;
        }
        return p.getAsString();
    }
}
