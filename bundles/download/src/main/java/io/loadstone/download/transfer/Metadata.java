package io.loadstone.download.transfer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.loadstone.download.DownloadPlan;
import io.loadstone.download.RemoteFile;
import io.loadstone.download.selection.FileSelector;

/**
 * {@code huggingface-metadata.txt}, in text-generation-webui's format, so both tools read each other's folders:
 * <pre>
 * url: https://huggingface.co/user/model
 * branch: main
 * download date: 2026-11-23 19:00:00
 * sha256sum:
 *     &lt;sha256&gt; &lt;file&gt;
 * </pre>
 */
final class Metadata {

    private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");
    private static final Pattern SHA_LINE = Pattern.compile("\\s+([0-9a-f]{64}) (.+)");

    private Metadata() {
    }

    static String text(DownloadPlan plan, String repoPage, LocalDateTime now) {
        StringBuilder b = new StringBuilder();
        b.append("url: ").append(repoPage).append('\n');
        b.append("branch: ").append(plan.ref().branch()).append('\n');
        b.append("download date: ").append(DATE.format(now)).append('\n');
        b.append("sha256sum:\n");
        for (RemoteFile f : plan.files()) {
            f.sha256().ifPresent(sha -> b.append("    ").append(sha).append(' ').append(plan.localPath(f))
                    .append('\n'));
        }
        return b.toString();
    }

    static void write(Path dir, DownloadPlan plan, String repoPage) throws IOException {
        Path file = dir.resolve(FileSelector.METADATA_FILE);
        Files.writeString(file, text(plan, repoPage, LocalDateTime.now()), StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * Why the existing folder is not this download, or null when it is: every planned file is there with its
     * size, and the metadata file records every LFS file's SHA-256 (which was verified when it was written).
     */
    static String mismatch(Path dir, DownloadPlan plan) {
        Path file = dir.resolve(FileSelector.METADATA_FILE);
        Map<String, String> shas = new HashMap<>();
        try {
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                return "it has no " + FileSelector.METADATA_FILE;
            }
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                Matcher m = SHA_LINE.matcher(line);
                if (m.matches()) {
                    shas.put(m.group(2), m.group(1));
                }
            }
            for (RemoteFile f : plan.files()) {
                String local = plan.localPath(f);
                Path p = dir.resolve(local).normalize();
                if (!p.startsWith(dir) || !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    return local + " is missing";
                }
                if (Files.size(p) != f.size()) {
                    return local + " has " + Files.size(p) + " bytes, the repo's has " + f.size();
                }
                if (f.sha256().isPresent() && !f.sha256().get().equals(shas.get(local))) {
                    return local + " is another version than the repo's";
                }
            }
            return null;
        } catch (IOException e) {
            return "it cannot be read (" + e.getMessage() + ")";
        }
    }
}
