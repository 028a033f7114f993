package io.loadstone.loader.ctransformers;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.llamacpp.loading.GgufSelection;

/**
 * Which file of a model source ctransformers reads, as text-generation-webui chose it: the
 * {@code *.gguf} files first ({@link GgufSelection}: split parts, mmproj skipped), else the first
 * {@code *.bin} by name. A {@code .bin} is told apart by its first four bytes: a GGUF saved
 * under another name is used; a legacy GGML/GGMF/GGJT file, which llama.cpp dropped in 2023,
 * is refused here so that it never reaches native code; anything else (a PyTorch checkpoint)
 * is not this loader's.
 */
final class ModelFiles {

    static final String GGML_FIX = "GGML files are no longer supported by llama.cpp: convert with "
            + "convert_llama_ggml_to_gguf.py or download the GGUF version.";

    /** What a source holds for this loader. */
    sealed interface Choice {
    }

    /** GGUF files ({@code .gguf}, with parts), validated later by {@link GgufSelection#validated}. */
    record Gguf(GgufSelection selection) implements Choice {
    }

    /** A {@code .bin} file that is a GGUF inside. */
    record GgufBin(Path file) implements Choice {
    }

    /** A legacy GGML-family {@code .bin} file; {@code magic} as its header spells it. */
    record LegacyGgml(Path file, String magic) implements Choice {

        String reason() {
            return file.getFileName() + " is a legacy GGML file (magic '" + magic + "')";
        }

        ModelLoadException refusal() {
            return new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, file.getFileName().toString(),
                    reason() + ".", GGML_FIX, null);
        }
    }

    /** Nothing this loader can read, and why. */
    record None(String reason) implements Choice {
    }

    private ModelFiles() {
    }

    static Choice choose(ModelSource source) throws IOException {
        Optional<GgufSelection> gguf = GgufSelection.of(source);
        if (gguf.isPresent()) {
            return new Gguf(gguf.get());
        }
        Optional<Path> bin = firstBin(source.path());
        if (bin.isEmpty()) {
            return new None("no .gguf or .bin file");
        }
        Path file = bin.get();
        String magic = magic(file);
        return switch (magic) {
            case "GGUF" -> new GgufBin(file);
            // The legacy formats wrote their magic as a little-endian uint32: 0x67676d6c reads "lmgg".
            case "lmgg" -> new LegacyGgml(file, "ggml");
            case "fmgg" -> new LegacyGgml(file, "ggmf");
            case "tjgg" -> new LegacyGgml(file, "ggjt");
            default -> new None(file.getFileName() + " is neither GGUF nor GGML (a PyTorch or other checkpoint)");
        };
    }

    private static Optional<Path> firstBin(Path p) throws IOException {
        if (Files.isRegularFile(p)) {
            return isBin(p) ? Optional.of(p) : Optional.empty();
        }
        if (!Files.isDirectory(p)) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.list(p)) {
            return s.filter(Files::isRegularFile).filter(ModelFiles::isBin)
                    .min(Comparator.comparing(x -> x.getFileName().toString()));
        }
    }

    private static boolean isBin(Path p) {
        return p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".bin");
    }

    private static String magic(Path file) throws IOException {
        byte[] b = new byte[4];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(b, 0, 4);
        }
        return n < 4 ? "" : new String(b, StandardCharsets.ISO_8859_1);
    }
}
