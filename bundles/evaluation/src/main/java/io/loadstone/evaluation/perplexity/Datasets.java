package io.loadstone.evaluation.perplexity;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

import io.loadstone.api.loader.ModelLoadException;

/**
 * The datasets folder. A name from a web form or the shell is only ever a plain file name
 * inside it: separators, "..", hidden files and links that lead outside are refused, so an
 * evaluation cannot be used to read other files on the machine.
 */
final class Datasets {

    private final Path dir;

    Datasets(Path dir) {
        this.dir = dir;
    }

    Path dir() {
        return dir;
    }

    List<String> list() {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> Files.isRegularFile(p)).map(p -> p.getFileName().toString())
                    .filter(n -> n.toLowerCase(Locale.ROOT).endsWith(".txt") && !n.startsWith("."))
                    .sorted(String.CASE_INSENSITIVE_ORDER).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** The file name a request's dataset refers to ({@code name} or {@code name.txt}). */
    String canonicalName(String name) throws ModelLoadException {
        String n = name.strip();
        if (n.isEmpty() || n.contains("/") || n.contains("\\") || n.contains("\0") || n.startsWith(".")
                || n.contains(":") || n.equals("..")) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "dataset",
                    "'" + name + "' is not a dataset file name.", "Give the name of a .txt file "
                    + "in " + dir + " (no folders), or paste the text instead. Available: " + available() + ".", null);
        }
        return n.toLowerCase(Locale.ROOT).endsWith(".txt") ? n : n + ".txt";
    }

    String read(String name) throws ModelLoadException {
        String file = canonicalName(name);
        Path p = dir.resolve(file).normalize();
        if (!p.getParent().equals(dir.normalize()) || !Files.isRegularFile(p)) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "dataset",
                    "There is no dataset '" + file + "' in " + dir + ".", "Put the text file "
                    + "there, or paste the text instead. Available: " + available() + ".", null);
        }
        try {
            // A link inside the folder may not lead out of it.
            Path real = p.toRealPath();
            Path realDir = dir.toRealPath();
            if (Files.isSymbolicLink(p) && !real.startsWith(realDir)) {
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "dataset",
                        "The dataset '" + file + "' links outside " + dir + ".",
                        "Copy the file into the datasets folder instead of linking to it.", null);
            }
            if (!Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS)) {
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "dataset",
                        "The dataset '" + file + "' is not a regular file.", "", null);
            }
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(real)))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, "dataset",
                    "The dataset " + p + " is not UTF-8 text.", "Save it as UTF-8.", e);
        } catch (IOException e) {
            throw new ModelLoadException("Cannot read the dataset " + p + ": " + e.getMessage(),
                    "Check the file's permissions.", e);
        }
    }

    private String available() {
        List<String> l = list();
        return l.isEmpty() ? "none" : String.join(", ", l);
    }
}
