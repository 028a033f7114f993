package io.loadstone.tokenizer.hf;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;

import io.loadstone.tokenizer.TokenizerException;
import io.loadstone.tokenizer.TokenizerOptions;

/**
 * Reads a Hugging Face tokenizer folder: tokenizer.json (required) and the optional
 * tokenizer_config.json, special_tokens_map.json, generation_config.json and chat_template.jinja.
 * Every failure names the file and says what to do.
 */
public final class TokenizerFiles {

    public static final String TOKENIZER_JSON = "tokenizer.json";
    static final String TOKENIZER_CONFIG = "tokenizer_config.json";
    static final String SPECIAL_TOKENS_MAP = "special_tokens_map.json";
    static final String GENERATION_CONFIG = "generation_config.json";
    static final String CHAT_TEMPLATE_FILE = "chat_template.jinja";

    /** Companion files are small; this only stops a wrong multi-GB file from being read. */
    private static final long MAX_COMPANION_BYTES = 64L << 20;

    private TokenizerFiles() {
    }

    public static TokenizerDefinition read(Path folderOrFile, TokenizerOptions options) throws TokenizerException {
        Path folder = Files.isRegularFile(folderOrFile)
                && folderOrFile.getFileName().toString().equals(TOKENIZER_JSON)
                        ? folderOrFile.toAbsolutePath().getParent()
                        : folderOrFile;
        if (folder == null || !Files.isDirectory(folder)) {
            throw new TokenizerException(folderOrFile, "no tokenizer folder at " + folderOrFile
                    + ": give the model folder that holds tokenizer.json");
        }
        Path jsonFile = folder.resolve(TOKENIZER_JSON);
        String json = readText(jsonFile, options.maxFileBytes(), true);
        if (json == null) {
            throw new TokenizerException(jsonFile, "no tokenizer.json in " + folder
                    + ": download the tokenizer files, or place tokenizer.json beside the model");
        }
        Vocabulary vocabulary = readVocabulary(jsonFile, json);

        JsonObject config = readObject(folder.resolve(TOKENIZER_CONFIG));
        JsonObject specialMap = readObject(folder.resolve(SPECIAL_TOKENS_MAP));
        JsonObject generation = readObject(folder.resolve(GENERATION_CONFIG));

        Map<String, String> special = new LinkedHashMap<>();
        // tokenizer_config.json first: transformers lets it override special_tokens_map.json.
        for (JsonObject source : new JsonObject[] {config, specialMap}) {
            if (source == null) {
                continue;
            }
            for (Map.Entry<String, JsonElement> e : source.entrySet()) {
                if (e.getKey().endsWith("_token") && !special.containsKey(e.getKey())) {
                    String content = tokenContent(e.getValue());
                    if (content != null) {
                        special.put(e.getKey(), content);
                    }
                }
            }
        }

        Boolean addBos = booleanOrNull(config, "add_bos_token", folder.resolve(TOKENIZER_CONFIG));
        Boolean addEos = booleanOrNull(config, "add_eos_token", folder.resolve(TOKENIZER_CONFIG));
        Integer genBos = null;
        List<Integer> genEos = new ArrayList<>();
        if (generation != null) {
            Path file = folder.resolve(GENERATION_CONFIG);
            JsonElement bos = generation.get("bos_token_id");
            if (bos != null && !bos.isJsonNull()) {
                genBos = tokenIdValue(bos, file, "bos_token_id");
            }
            JsonElement eos = generation.get("eos_token_id");
            if (eos != null && eos.isJsonArray()) {
                for (JsonElement el : eos.getAsJsonArray()) {
                    genEos.add(tokenIdValue(el, file, "eos_token_id"));
                }
            } else if (eos != null && !eos.isJsonNull()) {
                genEos.add(tokenIdValue(eos, file, "eos_token_id"));
            }
        }

        String template = readText(folder.resolve(CHAT_TEMPLATE_FILE), MAX_COMPANION_BYTES, false);
        if (template == null && config != null) {
            template = configTemplate(config.get("chat_template"));
        }
        return new TokenizerDefinition(folder, jsonFile, json, vocabulary, addBos, addEos, Map.copyOf(special),
                genBos, List.copyOf(genEos), Optional.ofNullable(template));
    }

    /** The template, or with several named ones the one named "default" (else the first). */
    private static String configTemplate(JsonElement value) {
        if (value == null || value.isJsonNull()) {
            return null;
        }
        if (value.isJsonPrimitive()) {
            return value.getAsString();
        }
        if (value.isJsonArray()) {
            String first = null;
            for (JsonElement el : value.getAsJsonArray()) {
                if (el.isJsonObject() && el.getAsJsonObject().has("template")) {
                    String name = el.getAsJsonObject().has("name") ? el.getAsJsonObject().get("name").getAsString() : "";
                    String t = el.getAsJsonObject().get("template").getAsString();
                    if ("default".equals(name)) {
                        return t;
                    }
                    if (first == null) {
                        first = t;
                    }
                }
            }
            return first;
        }
        return null;
    }

    /** A special token value: a string, or an AddedToken object with "content". */
    private static String tokenContent(JsonElement value) {
        if (value == null || value.isJsonNull()) {
            return null;
        }
        if (value.isJsonPrimitive() && value.getAsJsonPrimitive().isString()) {
            return value.getAsString();
        }
        if (value.isJsonObject() && value.getAsJsonObject().has("content")) {
            JsonElement c = value.getAsJsonObject().get("content");
            return c.isJsonPrimitive() ? c.getAsString() : null;
        }
        return null;
    }

    private static Boolean booleanOrNull(JsonObject o, String key, Path file) throws TokenizerException {
        if (o == null || !o.has(key) || o.get(key).isJsonNull()) {
            return null;
        }
        JsonElement v = o.get(key);
        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isBoolean()) {
            throw new TokenizerException(file, file + ": \"" + key + "\" must be true or false, not " + v
                    + ": fix or re-download the file");
        }
        return v.getAsBoolean();
    }

    private static int tokenIdValue(JsonElement v, Path file, String key) throws TokenizerException {
        if (v.isJsonPrimitive() && v.getAsJsonPrimitive().isNumber()) {
            double d = v.getAsDouble();
            if (d >= 0 && d <= Integer.MAX_VALUE && d == Math.rint(d)) {
                return (int) d;
            }
        }
        throw new TokenizerException(file, file + ": \"" + key + "\" must be a token id (a non-negative integer) "
                + "or a list of them, not " + v + ": fix or re-download the file");
    }

    /** The file's text, or null when it does not exist (and {@code required} only changes the wording). */
    private static String readText(Path file, long maxBytes, boolean required) throws TokenizerException {
        try {
            long size = Files.size(file);
            if (size > maxBytes) {
                throw new TokenizerException(file, file + " is " + size + " bytes, more than the " + maxBytes
                        + " allowed: " + (required ? "it is not a tokenizer.json, or raise TokenizerOptions.maxFileBytes"
                                : "it is not a file of this name's kind; remove or replace it"));
            }
            byte[] bytes = Files.readAllBytes(file);
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (NoSuchFileException e) {
            return null;
        } catch (CharacterCodingException e) {
            throw new TokenizerException(file, file + " is not UTF-8 text, so it is corrupt: download the tokenizer "
                    + "files again", e);
        } catch (IOException e) {
            throw new TokenizerException(file, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static JsonObject readObject(Path file) throws TokenizerException {
        String text = readText(file, MAX_COMPANION_BYTES, false);
        if (text == null) {
            return null;
        }
        try {
            JsonElement root = JsonParser.parseString(text);
            if (!root.isJsonObject()) {
                throw new TokenizerException(file, file + " is not a JSON object: fix or re-download it, or delete it");
            }
            return root.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new TokenizerException(file, file + " is not valid JSON (" + e.getMessage()
                    + "): fix or re-download it, or delete it", e);
        }
    }

    /**
     * Streams through tokenizer.json picking only model.vocab and added_tokens: merges of large
     * vocabularies run to hundreds of thousands of entries that a tree would hold for nothing.
     */
    static Vocabulary readVocabulary(Path file, String json) throws TokenizerException {
        Map<String, Integer> model = new HashMap<>();
        Map<String, Integer> added = new HashMap<>();
        BitSet special = new BitSet();
        boolean sawModel = false;
        try (JsonReader in = new JsonReader(new StringReader(json))) {
            in.beginObject();
            while (in.hasNext()) {
                String name = in.nextName();
                if (name.equals("model") && in.peek() == JsonToken.BEGIN_OBJECT) {
                    sawModel = true;
                    in.beginObject();
                    while (in.hasNext()) {
                        String key = in.nextName();
                        if (key.equals("vocab")) {
                            readModelVocab(in, model);
                        } else {
                            in.skipValue();
                        }
                    }
                    in.endObject();
                } else if (name.equals("added_tokens") && in.peek() == JsonToken.BEGIN_ARRAY) {
                    in.beginArray();
                    while (in.hasNext()) {
                        readAddedToken(in, added, special);
                    }
                    in.endArray();
                } else {
                    in.skipValue();
                }
            }
            in.endObject();
            if (in.peek() != JsonToken.END_DOCUMENT) {
                throw new IllegalStateException("text after the end of the JSON object");
            }
        } catch (IOException | IllegalStateException | NumberFormatException | JsonParseException e) {
            throw new TokenizerException(file, file + " is corrupt (" + e.getMessage()
                    + "): download the tokenizer files again, or place a valid tokenizer.json beside the model", e);
        }
        if (!sawModel || model.isEmpty() && added.isEmpty()) {
            throw new TokenizerException(file, file + " has no \"model\" with a vocabulary, so it is not a Hugging "
                    + "Face tokenizer.json: download the tokenizer files again");
        }
        return new Vocabulary(model, added, special);
    }

    /** BPE, WordPiece and WordLevel store {token: id}; Unigram stores [[piece, score], ...] in id order. */
    private static void readModelVocab(JsonReader in, Map<String, Integer> out) throws IOException {
        if (in.peek() == JsonToken.BEGIN_OBJECT) {
            in.beginObject();
            while (in.hasNext()) {
                String token = in.nextName();
                int id = in.nextInt();
                if (id < 0) {
                    throw new IllegalStateException("negative id " + id + " for token " + token);
                }
                out.put(token, id);
            }
            in.endObject();
        } else if (in.peek() == JsonToken.BEGIN_ARRAY) {
            in.beginArray();
            int id = 0;
            while (in.hasNext()) {
                in.beginArray();
                out.put(in.nextString(), id++);
                while (in.hasNext()) {
                    in.skipValue();
                }
                in.endArray();
            }
            in.endArray();
        } else {
            in.skipValue();
        }
    }

    private static void readAddedToken(JsonReader in, Map<String, Integer> out, BitSet special) throws IOException {
        Integer id = null;
        String content = null;
        boolean isSpecial = false;
        in.beginObject();
        while (in.hasNext()) {
            switch (in.nextName()) {
                case "id" -> id = in.nextInt();
                case "content" -> content = in.nextString();
                case "special" -> isSpecial = in.nextBoolean();
                default -> in.skipValue();
            }
        }
        in.endObject();
        if (id == null || content == null || id < 0) {
            throw new IllegalStateException("an added token without a valid id and content");
        }
        out.put(content, id);
        if (isSpecial) {
            special.set(id);
        }
    }
}
