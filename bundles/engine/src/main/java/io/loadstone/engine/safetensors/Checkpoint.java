package io.loadstone.engine.safetensors;

import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.json.Json;
import io.loadstone.engine.json.JsonException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * All weight tensors of a Hugging Face checkpoint folder, by name, over one or more mapped
 * files.
 *
 * <p>Which files: the shards listed in {@code model.safetensors.index.json}; else
 * {@code model.safetensors}; else every {@code *.safetensors} in the folder. A folder with only
 * {@code pytorch_model*.bin} (pickled zip) is refused with a clear message for now; a pickle
 * reader would produce the same {@link TensorInfo}s (PyTorch zips store tensors uncompressed, so
 * they can be mapped too) and plug in here.
 */
public final class Checkpoint {

    public static final String INDEX = "model.safetensors.index.json";
    public static final String SINGLE = "model.safetensors";

    private final Path folder;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;
    private final List<Path> files;

    private Checkpoint(Path folder, Map<String, TensorInfo> tensors, Map<String, String> metadata, List<Path> files) {
        this.folder = folder;
        this.tensors = tensors;
        this.metadata = metadata;
        this.files = files;
    }

    /** Finds, validates and maps the weight files of {@code folder} into {@code arena}. */
    public static Checkpoint open(Path folder, Arena arena) throws ModelFileException {
        Path index = folder.resolve(INDEX);
        if (Files.isRegularFile(index)) {
            return openSharded(folder, index, arena);
        }
        Path single = folder.resolve(SINGLE);
        List<Path> files;
        if (Files.isRegularFile(single)) {
            files = List.of(single);
        } else {
            files = listSafetensors(folder);
            if (files.isEmpty()) {
                throw noWeights(folder);
            }
        }
        Map<String, TensorInfo> all = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        for (Path f : files) {
            SafetensorsFile sf = SafetensorsFile.open(f, arena);
            meta.putAll(sf.metadata());
            for (TensorInfo t : sf.tensors().values()) {
                TensorInfo prior = all.putIfAbsent(t.name(), t);
                if (prior != null) {
                    throw new ModelFileException(f, "tensor '" + t.name() + "' is also in " + prior.file().getFileName()
                            + "; without " + INDEX + " the folder's safetensors files must not overlap",
                            "Remove the extra .safetensors file, or add the model's " + INDEX + ".");
                }
            }
        }
        return new Checkpoint(folder, Collections.unmodifiableMap(all), Collections.unmodifiableMap(meta), files);
    }

    private static Checkpoint openSharded(Path folder, Path index, Arena arena) throws ModelFileException {
        Map<String, Object> root;
        try {
            root = Json.parseObject(Files.readString(index, StandardCharsets.UTF_8));
        } catch (JsonException e) {
            throw new ModelFileException(index, "is not valid JSON: " + e.getMessage(), "Download the file again.", e);
        } catch (IOException e) {
            throw new ModelFileException(index, "cannot be read: " + e, "Check the file.", e);
        }
        if (!(root.get("weight_map") instanceof Map<?, ?> weightMap)) {
            throw new ModelFileException(index, "has no \"weight_map\" object", "Download the file again.");
        }
        Map<String, String> wanted = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : weightMap.entrySet()) {
            if (!(e.getValue() instanceof String shard)) {
                throw new ModelFileException(index, "weight_map entry '" + e.getKey() + "' is " + Json.typeName(e.getValue())
                        + ", not a file name", "Download the file again.");
            }
            Path p = Path.of(shard);
            if (p.isAbsolute() || p.getNameCount() != 1 || shard.equals("..") || shard.equals(".")) {
                throw new ModelFileException(index, "weight_map names '" + shard + "', which is not a file in the model folder",
                        "Download the file again.");
            }
            wanted.put((String) e.getKey(), shard);
        }
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        for (String shard : new TreeSet<>(wanted.values())) {
            Path f = folder.resolve(shard);
            if (!Files.isRegularFile(f)) {
                throw new ModelFileException(f, "is listed in " + INDEX + " but missing",
                        "Download the missing shard (every file the index names is needed).");
            }
            shards.put(shard, SafetensorsFile.open(f, arena));
        }
        Map<String, TensorInfo> all = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : wanted.entrySet()) {
            SafetensorsFile sf = shards.get(e.getValue());
            TensorInfo t = sf.tensors().get(e.getKey());
            if (t == null) {
                throw new ModelFileException(sf.path(), "lacks tensor '" + e.getKey() + "' that " + INDEX + " places in it",
                        "Download the shard and the index again (they are from different versions).");
            }
            all.put(e.getKey(), t);
        }
        List<Path> files = new ArrayList<>();
        for (SafetensorsFile sf : shards.values()) {
            meta.putAll(sf.metadata());
            files.add(sf.path());
        }
        return new Checkpoint(folder, Collections.unmodifiableMap(all), Collections.unmodifiableMap(meta), List.copyOf(files));
    }

    private static List<Path> listSafetensors(Path folder) throws ModelFileException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".safetensors"))
                    // PEFT adapters live next to merged models sometimes; they are not base weights.
                    .filter(p -> !p.getFileName().toString().startsWith("adapter_model"))
                    .filter(Files::isRegularFile)
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new ModelFileException(folder, "cannot be listed: " + e, "Check that the model folder exists and is readable.", e);
        }
    }

    private static ModelFileException noWeights(Path folder) {
        boolean pickle;
        try (Stream<Path> s = Files.list(folder)) {
            pickle = s.anyMatch(p -> {
                String n = p.getFileName().toString();
                return n.startsWith("pytorch_model") && n.endsWith(".bin");
            });
        } catch (IOException e) {
            pickle = false;
        }
        if (pickle) {
            return new ModelFileException(folder, "has only pytorch_model*.bin weights (pickle), which this engine does not read yet",
                    "Use the safetensors version of the model (most Hugging Face repos have one), or convert it.");
        }
        return new ModelFileException(folder, "has no weights: neither " + INDEX + " nor " + SINGLE + " nor any *.safetensors file",
                "Download the model's .safetensors files into this folder.");
    }

    public Path folder() {
        return folder;
    }

    public Optional<TensorInfo> find(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public List<Path> files() {
        return files;
    }
}
