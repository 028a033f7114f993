package io.loadstone.core.models;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import io.loadstone.api.loader.ModelSource;

/**
 * Lists a models folder the way text-generation-webui users know it: every sub-folder and
 * every single {@code .gguf} file is a model, except helper files (names ending in
 * {@code .txt}, {@code -np}, {@code .pt}, {@code .json}, {@code .yaml}, {@code .py}),
 * tokenizer folders ({@code llama-tokenizer}), hidden entries (our download staging
 * area among them) and the 2nd..Nth parts of a split GGUF. Sorted naturally, so
 * {@code model-2} comes before {@code model-10}.
 */
public final class ModelFolder {

    private static final Pattern GGUF_PART = Pattern.compile("(?i).*-(\\d{5})-of-(\\d{5})\\.gguf");
    private static final List<String> SKIPPED_SUFFIXES = List.of(".txt", "-np", ".pt", ".json", ".yaml", ".yml",
            ".py", ".md", ".part", ".lock");

    private ModelFolder() {
    }

    /** The models in {@code dir}; an absent folder has none. */
    public static List<ModelSource> list(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<ModelSource> out = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                String name = p.getFileName().toString();
                if (isModel(p, name)) {
                    out.add(new ModelSource(name, p));
                }
            }
        }
        out.sort(Comparator.comparing(ModelSource::name, ModelFolder::naturalCompare));
        return out;
    }

    private static boolean isModel(Path p, String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        if (name.startsWith(".") || lower.contains("llama-tokenizer")) {
            return false;
        }
        if (Files.isDirectory(p)) {
            return SKIPPED_SUFFIXES.stream().noneMatch(lower::endsWith);
        }
        if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(p)) {
            return false;
        }
        if (!lower.endsWith(".gguf")) {
            return false;
        }
        Matcher m = GGUF_PART.matcher(name);
        return !m.matches() || Integer.parseInt(m.group(1)) == 1;
    }

    /** Total bytes of a model's files (a folder: its files, not descending into sub-folders of sub-folders). */
    public static long size(Path p) {
        try {
            if (Files.isRegularFile(p)) {
                return Files.size(p);
            }
            try (Stream<Path> s = Files.walk(p, 2)) {
                return s.filter(Files::isRegularFile).mapToLong(f -> {
                    try {
                        return Files.size(f);
                    } catch (IOException e) {
                        return 0;
                    }
                }).sum();
            }
        } catch (IOException e) {
            return 0;
        }
    }

    /** Compares names with digit runs as numbers, case-insensitively. */
    public static int naturalCompare(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            char ca = a.charAt(i);
            char cb = b.charAt(j);
            if (Character.isDigit(ca) && Character.isDigit(cb)) {
                int si = i;
                int sj = j;
                while (i < a.length() && Character.isDigit(a.charAt(i))) {
                    i++;
                }
                while (j < b.length() && Character.isDigit(b.charAt(j))) {
                    j++;
                }
                String na = a.substring(si, i).replaceFirst("^0+(?=.)", "");
                String nb = b.substring(sj, j).replaceFirst("^0+(?=.)", "");
                int c = na.length() != nb.length() ? Integer.compare(na.length(), nb.length()) : na.compareTo(nb);
                if (c != 0) {
                    return c;
                }
            } else {
                int c = Character.compare(Character.toLowerCase(ca), Character.toLowerCase(cb));
                if (c != 0) {
                    return c;
                }
                i++;
                j++;
            }
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }
}
