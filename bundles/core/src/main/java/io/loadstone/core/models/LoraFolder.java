package io.loadstone.core.models;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The loras folder. text-generation-webui lists its sub-folders except names ending in
 * {@code .txt}, {@code -np}, {@code .pt} or {@code .json} (utils.get_available_loras); here a
 * folder must also hold {@code adapter_config.json}, because one without it is no PEFT adapter
 * and applying it could only fail later, with a less helpful message.
 */
public final class LoraFolder {

    private static final List<String> EXCLUDED_ENDINGS = List.of(".txt", "-np", ".pt", ".json");

    private LoraFolder() {
    }

    /** The adapters, sorted case-insensitively (webui sorts its list the same way). */
    public static List<String> list(Path dir) {
        List<String> out = new ArrayList<>();
        scan(dir).forEach((name, why) -> {
            if (why.isEmpty()) {
                out.add(name);
            }
        });
        out.sort(Comparator.comparing((String s) -> s.toLowerCase(Locale.ROOT)).thenComparing(s -> s));
        return List.copyOf(out);
    }

    /** Entries of the folder that are not listed, with why (so the shell can say it). */
    public static Map<String, String> skipped(Path dir) {
        Map<String, String> out = new LinkedHashMap<>();
        scan(dir).forEach((name, why) -> {
            if (!why.isEmpty()) {
                out.put(name, why);
            }
        });
        return out;
    }

    /** Every entry with "" (an adapter) or the reason it is not one. */
    private static Map<String, String> scan(Path dir) {
        Map<String, String> out = new TreeMap<>();
        if (dir == null || !Files.isDirectory(dir)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (name.startsWith(".")) {
                    continue;
                }
                out.put(name, reason(p, name));
            }
        } catch (IOException e) {
            // An unreadable folder lists nothing; the caller shows the empty list with the folder's path.
        }
        return out;
    }

    private static String reason(Path p, String name) {
        if (!Files.isDirectory(p)) {
            return "a file, not an adapter folder";
        }
        for (String end : EXCLUDED_ENDINGS) {
            if (name.endsWith(end)) {
                return "the name ends in " + end + " (text-generation-webui skips those too)";
            }
        }
        if (!Files.isRegularFile(p.resolve("adapter_config.json"))) {
            return "no adapter_config.json inside (a PEFT adapter folder has one)";
        }
        return "";
    }
}
