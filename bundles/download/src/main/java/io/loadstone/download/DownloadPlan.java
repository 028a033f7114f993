package io.loadstone.download;

import io.loadstone.api.runtime.ByteSize;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * What a download will fetch and where it will put it, made by {@link ModelDownloader#plan}. Shown to the
 * user before starting ("Get file list"), then passed to {@link ModelDownloader#start}.
 *
 * @param ref         the repository and branch
 * @param layout      how the files land
 * @param target      the model folder, or for {@link Layout#SINGLE_FILE} the file itself; the path appears
 *                    only once every file is downloaded and verified (for {@link Layout#CHOOSE_GGUF}: the
 *                    models folder)
 * @param lora        true when the repo is a LoRA adapter ({@code adapter_config.json}), so the target is
 *                    in the LoRA folder
 * @param files       the files to fetch (empty when {@link #needsChoice()})
 * @param ggufChoices for {@link Layout#CHOOSE_GGUF}: the GGUF models the repo offers, smallest first
 * @param notes       why files were left out, for the user ("pytorch_model.bin: safetensors present")
 */
public record DownloadPlan(RepoRef ref, Layout layout, Path target, boolean lora, List<RemoteFile> files,
        List<GgufChoice> ggufChoices, List<String> notes) {

    /** How the files land. */
    public enum Layout {
        /** Into a folder {@code models/<user>_<model>[_<branch>]} (or the LoRA folder) with a metadata file. */
        FOLDER,
        /** One GGUF file straight into the models folder. */
        SINGLE_FILE,
        /**
         * The parts of a split GGUF ({@code name-00001-of-0000N.gguf} …) side by side in a folder of their own,
         * {@code models/<name>}, so the model appears as one entry and the loader finds every part.
         */
        SPLIT_GGUF,
        /** Nothing yet: the repo offers several GGUF files and the user has to pick one. */
        CHOOSE_GGUF
    }

    public DownloadPlan {
        Objects.requireNonNull(ref, "ref");
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(target, "target");
        files = List.copyOf(files);
        ggufChoices = List.copyOf(ggufChoices);
        notes = List.copyOf(notes);
    }

    /** True when the user must pick one of {@link #ggufChoices()} and plan again with it. */
    public boolean needsChoice() {
        return layout == Layout.CHOOSE_GGUF;
    }

    /**
     * Where {@code file} lands, relative to {@link #target()}'s folder: its repo path in a {@link Layout#FOLDER},
     * its bare name for GGUF layouts (for {@link Layout#SINGLE_FILE} that is {@code target}'s own name).
     */
    public String localPath(RemoteFile file) {
        return layout == Layout.FOLDER ? file.path() : file.name();
    }

    /** Bytes to fetch, all files together. */
    public long totalBytes() {
        return files.stream().mapToLong(RemoteFile::size).sum();
    }

    /** A short human description: what goes where, or which GGUF files to choose from. */
    public String describe() {
        StringBuilder b = new StringBuilder();
        if (needsChoice()) {
            b.append(ref.repo()).append(" offers ").append(ggufChoices.size())
                    .append(" GGUF models; choose one of these files:");
            for (GgufChoice c : ggufChoices) {
                b.append("\n  ").append(c.file()).append("  (").append(ByteSize.format(c.size()));
                if (c.isSplit()) {
                    b.append(", ").append(c.parts().size()).append(" parts");
                }
                b.append(')');
            }
            return b.toString();
        }
        b.append(files.size()).append(files.size() == 1 ? " file, " : " files, ").append(ByteSize.format(totalBytes()))
                .append(" from ").append(ref).append(" into ").append(target);
        if (lora) {
            b.append(" (LoRA)");
        }
        for (RemoteFile f : files) {
            b.append("\n  ").append(f.path()).append("  (").append(ByteSize.format(f.size())).append(')');
        }
        return b.toString();
    }
}
