package io.loadstone.loader.engine;

import io.loadstone.api.loader.ModelLoadException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Where the weights of a GPTQ folder are, as text-generation-webui's loaders look for them, and a
 * view of the folder that the engine can open when they are not where the engine looks
 * ({@code model.safetensors}, shards, {@code pytorch_model*.bin}) or when an old folder has no
 * quantization config at all.
 *
 * <ul>
 * <li>AutoGPTQ ({@code modules/AutoGPTQ_loader.py}): the last {@code *.safetensors}, else {@code *.pt},
 * else {@code *.bin}.</li>
 * <li>GPTQ-for-LLaMa ({@code GPTQ_loader.find_quantized_model_file}): {@code {dir}{hyphen}{wbits}bit{group}{ext}}
 * with group in {@code -{groupsize}g, ""}, ext in {@code .safetensors, .pt}, hyphen in {@code -, /{name}-, /};
 * then the last {@code *.pt}, then the last {@code *.safetensors}.</li>
 * </ul>
 *
 * <p>The view is a folder of symbolic links to the model's files, with the checkpoint linked under the
 * engine's name and, for an old folder, a {@code quantize_config.json} written from wbits, groupsize and
 * desc_act (as AutoGPTQ's {@code BaseQuantizeConfig} is built from them). Nothing in the model folder is changed.
 */
public final class GptqFiles {

    private GptqFiles() {
    }

    /** AutoGPTQ's choice: the last *.safetensors, else *.pt, else *.bin (sorted by name). */
    public static Optional<Path> autoGptq(Path folder) throws ModelLoadException {
        List<Path> files = list(folder);
        for (String ext : List.of(".safetensors", ".pt", ".bin")) {
            Optional<Path> last = files.stream().filter(p -> weightFile(p, ext)).reduce((a, b) -> b);
            if (last.isPresent()) {
                return last;
            }
        }
        return Optional.empty();
    }

    /** GPTQ-for-LLaMa's choice for {@code wbits} and {@code groupsize} (≤ 0: none). */
    public static Optional<Path> gptqForLlama(Path folder, int wbits, int groupsize) throws ModelLoadException {
        String name = folder.getFileName().toString();
        List<String> groups = groupsize > 0 ? List.of("-" + groupsize + "g", "") : List.of("");
        for (String group : groups) {
            for (String ext : List.of(".safetensors", ".pt")) {
                for (Path candidate : List.of(folder.resolveSibling(name + "-" + wbits + "bit" + group + ext),
                        folder.resolve(name + "-" + wbits + "bit" + group + ext),
                        folder.resolve(wbits + "bit" + group + ext))) {
                    if (wbits > 0 && Files.isRegularFile(candidate)) {
                        return Optional.of(candidate);
                    }
                }
            }
        }
        List<Path> files = list(folder);
        for (String ext : List.of(".pt", ".safetensors")) {
            Optional<Path> last = files.stream().filter(p -> weightFile(p, ext)).reduce((a, b) -> b);
            if (last.isPresent()) {
                return last;
            }
        }
        return Optional.empty();
    }

    private static boolean weightFile(Path p, String ext) {
        String n = p.getFileName().toString();
        return n.endsWith(ext) && !n.startsWith("adapter_") && !n.startsWith("training_args");
    }

    private static List<Path> list(Path folder) throws ModelLoadException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw new ModelLoadException("Cannot list " + folder + ": " + e.getMessage(), "Check the folder.", e);
        }
    }

    /** True when the engine reads {@code checkpoint} in place: its own names, and a quantization config present. */
    public static boolean engineReadsInPlace(HfFolder f, Path checkpoint) {
        String n = checkpoint.getFileName().toString();
        boolean engineName = n.equals("model.safetensors") || Files.exists(f.folder().resolve(
                "model.safetensors.index.json")) || (n.startsWith("pytorch_model") && n.endsWith(".bin"));
        return engineName && checkpoint.getParent().equals(f.folder()) && f.quantized() != null;
    }

    /**
     * A folder under {@code parent} holding links to {@code f}'s files, {@code checkpoint} linked as
     * {@code model.safetensors} (or {@code pytorch_model.bin} for torch.save files), and a
     * {@code quantize_config.json} from the given values when {@code f} has no quantization config.
     */
    public static Path view(Path parent, HfFolder f, Path checkpoint, int bits, int groupSize, boolean descAct)
            throws ModelLoadException {
        try {
            Files.createDirectories(parent);
            Path view = Files.createTempDirectory(parent, f.folder().getFileName().toString().replaceAll(
                    "[^A-Za-z0-9._-]", "_") + "-");
            String target = checkpoint.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".safetensors")
                    ? "model.safetensors" : "pytorch_model.bin";
            List<Path> files = new ArrayList<>(list(f.folder()));
            for (Path p : files) {
                String n = p.getFileName().toString();
                boolean weights = n.endsWith(".safetensors") || n.endsWith(".pt") || n.endsWith(".bin")
                        || n.equals("model.safetensors.index.json") || n.equals("pytorch_model.bin.index.json");
                if (!weights) {
                    Files.createSymbolicLink(view.resolve(n), p.toAbsolutePath());
                }
            }
            Files.createSymbolicLink(view.resolve(target), checkpoint.toAbsolutePath());
            if (f.quantized() == null) {
                Files.writeString(view.resolve("quantize_config.json"), "{\"bits\": " + bits + ", \"group_size\": "
                        + groupSize + ", \"desc_act\": " + descAct + ", \"sym\": true, \"quant_method\": \"gptq\", "
                        + "\"checkpoint_format\": \"gptq\"}\n", StandardCharsets.UTF_8);
            }
            return view;
        } catch (IOException | UnsupportedOperationException e) {
            throw new ModelLoadException("Cannot prepare " + checkpoint + " for the engine (a folder of links under "
                    + parent + "): " + e.getMessage(), "Rename the checkpoint to model.safetensors and add a "
                            + "quantize_config.json with bits, group_size and desc_act.", e);
        }
    }

    /** Removes a view made by {@link #view} (links and the written config only; never the model's files). */
    public static void delete(Path view) {
        try (Stream<Path> s = Files.list(view)) {
            for (Path p : s.toList()) {
                Files.deleteIfExists(p);
            }
            Files.deleteIfExists(view);
        } catch (IOException e) {
            System.getLogger(GptqFiles.class.getName()).log(System.Logger.Level.WARNING,
                    "Cannot remove " + view + ": " + e.getMessage());
        }
    }
}
