package io.loadstone.llamacpp.loading;

import io.loadstone.gguf.GgufFile;
import io.loadstone.gguf.GgufException;
import io.loadstone.gguf.GgufModelCheck;
import io.loadstone.llamacpp.LlamaRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelSource;

/**
 * Which GGUF file(s) a model source stands for: the file itself, or in a folder the first
 * {@code .gguf} by name (as text-generation-webui does), preferring part 1 of a split model
 * ({@code name-00001-of-00003.gguf}) and skipping multimodal projector files ({@code mmproj}).
 * Shared by the loaders that run GGUF files on this runtime.
 *
 * @param main   the file llama.cpp is given
 * @param parts  every file llama.cpp will read (all parts of a split model), main first
 * @param others other GGUF files in the folder that were not chosen
 */
public record GgufSelection(Path main, List<Path> parts, List<Path> others) {

    private static final Pattern SPLIT = Pattern.compile("(.*)-(\\d{5})-of-(\\d{5})\\.gguf",
            Pattern.CASE_INSENSITIVE);

    public static boolean isGgufName(Path p) {
        Path name = p.getFileName();
        return name != null && name.toString().toLowerCase(Locale.ROOT).endsWith(".gguf");
    }

    /** The selection, or empty when the source holds no GGUF file. */
    public static java.util.Optional<GgufSelection> of(ModelSource source) throws IOException {
        Path p = source.path();
        if (Files.isRegularFile(p)) {
            if (!isGgufName(p)) {
                return java.util.Optional.empty();
            }
            return java.util.Optional.of(withParts(p, List.of()));
        }
        if (!Files.isDirectory(p)) {
            return java.util.Optional.empty();
        }
        List<Path> ggufs;
        try (Stream<Path> s = Files.list(p)) {
            ggufs = s.filter(Files::isRegularFile).filter(GgufSelection::isGgufName)
                    .sorted(Comparator.comparing(x -> x.getFileName().toString())).toList();
        }
        if (ggufs.isEmpty()) {
            return java.util.Optional.empty();
        }
        List<Path> candidates = ggufs.stream()
                .filter(x -> !x.getFileName().toString().toLowerCase(Locale.ROOT).contains("mmproj")).toList();
        if (candidates.isEmpty()) {
            candidates = ggufs;
        }
        Path main = candidates.stream().filter(x -> {
            Matcher m = SPLIT.matcher(x.getFileName().toString());
            return !m.matches() || Integer.parseInt(m.group(2)) == 1;
        }).findFirst().orElse(candidates.getFirst());
        GgufSelection sel = withParts(main, List.of());
        List<Path> others = ggufs.stream().filter(x -> !sel.parts().contains(x)).toList();
        return java.util.Optional.of(new GgufSelection(sel.main(), sel.parts(), others));
    }

    private static GgufSelection withParts(Path main, List<Path> others) {
        Matcher m = SPLIT.matcher(main.getFileName().toString());
        if (!m.matches()) {
            return new GgufSelection(main, List.of(main), others);
        }
        int count = Integer.parseInt(m.group(3));
        List<Path> parts = new ArrayList<>();
        for (int i = 1; i <= Math.max(count, 1); i++) {
            parts.add(main.resolveSibling(String.format(Locale.ROOT, "%s-%05d-of-%s.gguf", m.group(1), i,
                    m.group(3))));
        }
        return new GgufSelection(parts.getFirst(), List.copyOf(parts), others);
    }

    /** Refuses a split model with a missing part, naming it. */
    public void requireParts() throws ModelLoadException {
        for (Path part : parts) {
            if (!Files.isRegularFile(part)) {
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, String.valueOf(part.getFileName()),
                        "Part " + part.getFileName() + " of the split model " + main.getFileName()
                        + " is missing (expected in " + main.getParent() + ").",
                        "Download all " + parts.size() + " parts into the same folder.", null);
            }
        }
    }

    /**
     * The GGUF a loader should load from {@code source}, with every part present and validated
     * in Java before native code sees any of it.
     *
     * @return the selection and the first part's parsed header
     * @throws ModelLoadException no GGUF, a missing part, or a corrupt file (the message names it)
     */
    public static Validated validated(ModelSource source) throws ModelLoadException {
        return validated(source, null);
    }

    /**
     * As {@link #validated(ModelSource)}, refusing first a file whose architecture {@code runtime}'s
     * build cannot run ({@link Architectures}): that is the one thing to fix for such a file, whatever
     * else its header lacks.
     */
    public static Validated validated(ModelSource source, LlamaRuntime runtime) throws ModelLoadException {
        GgufSelection sel;
        try {
            sel = of(source).orElseThrow(() -> new ModelLoadException(ModelLoadException.Reason.INVALID_FILE,
                    source.name(), "No .gguf file in " + source.path() + ".",
                    "Pick a .gguf file or a folder that holds one, or another loader.", null));
        } catch (IOException e) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, source.name(),
                    "Cannot read " + source.path() + ": " + e.getMessage(),
                    "Check that the path exists and is readable.", e);
        }
        sel.requireParts();
        List<GgufFile> read = new ArrayList<>();
        try {
            for (Path part : sel.parts()) {
                read.add(GgufFile.read(part));
            }
            if (runtime != null) {
                Architectures.require(read.get(0), sel.main(), runtime);
            }
            // Sound structure is not enough: llama.cpp aborts the process on values it trusts.
            GgufModelCheck.check(read);
        } catch (GgufException e) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, String.valueOf(e.file()
                    .getFileName()), e.getMessage() + " (" + e.file() + ")", e.fix(), e);
        }
        return new Validated(sel, read.get(0));
    }

    /** A selection whose parts all passed {@link GgufFile#read}; {@code gguf} is the first part. */
    public record Validated(GgufSelection selection, GgufFile gguf) {
    }
}
