package io.loadstone.engine.pytorch;

import io.loadstone.engine.safetensors.Checkpoint;
import io.loadstone.engine.safetensors.TensorInfo;
import io.loadstone.testsupport.TorchSaveWriter;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;

/** Converts the shared safetensors checkpoints into pytorch_model*.bin folders with {@link TorchSaveWriter}. */
final class BinFixtures {

    private BinFixtures() {
    }

    /** Copies every file of {@code src} except its weights into {@code dst}. */
    static void copyNonWeights(Path src, Path dst) throws Exception {
        Files.createDirectories(dst);
        try (Stream<Path> s = Files.list(src)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (!n.endsWith(".safetensors") && !n.equals(Checkpoint.INDEX) && Files.isRegularFile(p)) {
                    Files.copy(p, dst.resolve(n));
                }
            }
        }
    }

    /** {@code torch.save} of the tensors of {@code src} passing {@code keep} into {@code file}. */
    static List<String> writeBin(Path src, Path file, Predicate<String> keep, boolean stateDict) throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            List<TorchSaveWriter.Tensor> out = new ArrayList<>();
            for (TensorInfo t : Checkpoint.open(src, arena).tensors().values()) {
                if (keep.test(t.name())) {
                    out.add(new TorchSaveWriter.Tensor(t.name(), t.dtype(), t.shape(), t.data()));
                }
            }
            TorchSaveWriter.write(file, out, stateDict);
            return out.stream().map(TorchSaveWriter.Tensor::name).toList();
        }
    }

    /** The folder {@code src} with its weights as one {@code pytorch_model.bin}. */
    static Path binFolder(Path src, Path dst) throws Exception {
        copyNonWeights(src, dst);
        writeBin(src, dst.resolve(Checkpoint.BIN_SINGLE), n -> true, false);
        return dst;
    }

    /** The folder {@code src} as two shards plus {@code pytorch_model.bin.index.json}, as save_pretrained writes it. */
    static Path shardedBinFolder(Path src, Path dst) throws Exception {
        copyNonWeights(src, dst);
        Predicate<String> first = n -> n.contains("embed") || n.contains("layers.0.") || n.contains("layers.1.");
        String a = "pytorch_model-00001-of-00002.bin";
        String b = "pytorch_model-00002-of-00002.bin";
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (String n : writeBin(src, dst.resolve(a), first, false)) {
            weightMap.put(n, a);
        }
        for (String n : writeBin(src, dst.resolve(b), first.negate(), false)) {
            weightMap.put(n, b);
        }
        StringBuilder json = new StringBuilder("{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
        boolean firstEntry = true;
        for (Map.Entry<String, String> e : weightMap.entrySet()) {
            json.append(firstEntry ? "" : ", ").append('"').append(e.getKey()).append("\": \"").append(e.getValue()).append('"');
            firstEntry = false;
        }
        Files.writeString(dst.resolve(Checkpoint.BIN_INDEX), json.append("}}").toString());
        return dst;
    }
}
