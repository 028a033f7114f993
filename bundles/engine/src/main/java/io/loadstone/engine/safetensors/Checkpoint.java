package io.loadstone.engine.safetensors;

import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.json.Json;
import io.loadstone.engine.json.JsonException;
import io.loadstone.engine.pytorch.PytorchFile;
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
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * All weight tensors of a Hugging Face checkpoint folder, by name, over one or more mapped
 * files.
 *
 * <p>Which files: the shards listed in {@code model.safetensors.index.json}; else
 * {@code model.safetensors}; else every {@code *.safetensors} in the folder. Only when the folder
 * has no safetensors at all, the same order over PyTorch's files:
 * {@code pytorch_model.bin.index.json}, {@code pytorch_model.bin}, every
 * {@code pytorch_model*.bin}. Those are read by {@link PytorchFile} without running their pickle
 * and give the same {@link TensorInfo}s (slices of the mapped file), so nothing after this class
 * knows which format it reads.
 */
public final class Checkpoint {

    public static final String INDEX = "model.safetensors.index.json";
    public static final String SINGLE = "model.safetensors";
    public static final String BIN_INDEX = "pytorch_model.bin.index.json";
    public static final String BIN_SINGLE = "pytorch_model.bin";

    /** Reads one weight file's tensors and metadata. */
    @FunctionalInterface
    private interface Reader {
        Map<String, TensorInfo> tensors(Path file, Arena arena, Map<String, String> metadata) throws ModelFileException;
    }

    private static final Reader SAFETENSORS = (f, arena, meta) -> {
        SafetensorsFile sf = SafetensorsFile.open(f, arena);
        meta.putAll(sf.metadata());
        return sf.tensors();
    };

    private static final Reader PYTORCH = (f, arena, meta) -> PytorchFile.open(f, arena);

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
            return openSharded(folder, index, arena, SAFETENSORS);
        }
        Path single = folder.resolve(SINGLE);
        if (Files.isRegularFile(single)) {
            return openFiles(folder, List.of(single), arena, SAFETENSORS, INDEX);
        }
        List<Path> files = list(folder, n -> n.endsWith(".safetensors")
                // PEFT adapters live next to merged models sometimes; they are not base weights.
                && !n.startsWith("adapter_model"));
        if (!files.isEmpty()) {
            return openFiles(folder, files, arena, SAFETENSORS, INDEX);
        }
        Path binIndex = folder.resolve(BIN_INDEX);
        if (Files.isRegularFile(binIndex)) {
            return openSharded(folder, binIndex, arena, PYTORCH);
        }
        Path bin = folder.resolve(BIN_SINGLE);
        if (Files.isRegularFile(bin)) {
            return openFiles(folder, List.of(bin), arena, PYTORCH, BIN_INDEX);
        }
        List<Path> bins = list(folder, Checkpoint::isPytorchWeights);
        if (!bins.isEmpty()) {
            return openFiles(folder, bins, arena, PYTORCH, BIN_INDEX);
        }
        throw noWeights(folder);
    }

    /** {@code pytorch_model.bin} and its shards {@code pytorch_model-00001-of-00002.bin}. */
    public static boolean isPytorchWeights(String fileName) {
        return fileName.startsWith("pytorch_model") && fileName.endsWith(".bin");
    }

    private static Checkpoint openFiles(Path folder, List<Path> files, Arena arena, Reader reader, String indexName)
            throws ModelFileException {
        Map<String, TensorInfo> all = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        for (Path f : files) {
            for (TensorInfo t : reader.tensors(f, arena, meta).values()) {
                TensorInfo prior = all.putIfAbsent(t.name(), t);
                if (prior != null) {
                    throw new ModelFileException(f, "tensor '" + t.name() + "' is also in " + prior.file().getFileName()
                            + "; without " + indexName + " the folder's weight files must not overlap",
                            "Remove the extra weight file, or add the model's " + indexName + ".");
                }
            }
        }
        return new Checkpoint(folder, Collections.unmodifiableMap(all), Collections.unmodifiableMap(meta), files);
    }

    private static Checkpoint openSharded(Path folder, Path index, Arena arena, Reader reader) throws ModelFileException {
        String indexName = index.getFileName().toString();
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
        Map<String, String> meta = new LinkedHashMap<>();
        Map<String, Map<String, TensorInfo>> shards = new LinkedHashMap<>();
        for (String shard : new TreeSet<>(wanted.values())) {
            Path f = folder.resolve(shard);
            if (!Files.isRegularFile(f)) {
                throw new ModelFileException(f, "is listed in " + indexName + " but missing",
                        "Download the missing shard (every file the index names is needed).");
            }
            shards.put(shard, reader.tensors(f, arena, meta));
        }
        Map<String, TensorInfo> all = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : wanted.entrySet()) {
            TensorInfo t = shards.get(e.getValue()).get(e.getKey());
            if (t == null) {
                throw new ModelFileException(folder.resolve(e.getValue()), "lacks tensor '" + e.getKey() + "' that " + indexName
                        + " places in it", "Download the shard and the index again (they are from different versions).");
            }
            all.put(e.getKey(), t);
        }
        List<Path> files = new ArrayList<>();
        for (String shard : shards.keySet()) {
            files.add(folder.resolve(shard));
        }
        return new Checkpoint(folder, Collections.unmodifiableMap(all), Collections.unmodifiableMap(meta), List.copyOf(files));
    }

    private static List<Path> list(Path folder, Predicate<String> name) throws ModelFileException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.filter(p -> name.test(p.getFileName().toString()))
                    .filter(Files::isRegularFile)
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new ModelFileException(folder, "cannot be listed: " + e, "Check that the model folder exists and is readable.", e);
        }
    }

    private static ModelFileException noWeights(Path folder) {
        return new ModelFileException(folder, "has no weights: neither " + INDEX + " nor " + SINGLE + " nor any *.safetensors file, "
                + "nor " + BIN_INDEX + " nor any pytorch_model*.bin",
                "Download the model's .safetensors (or pytorch_model*.bin) files into this folder.");
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
