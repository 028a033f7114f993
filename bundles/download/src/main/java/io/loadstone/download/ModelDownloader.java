package io.loadstone.download;

import java.util.List;
import java.util.Optional;

import org.osgi.annotation.versioning.ProviderType;

/**
 * Downloads models and LoRAs from the Hugging Face Hub (or a mirror named by {@code HF_ENDPOINT}) into the
 * models folder, the way text-generation-webui's "Download model or LoRA" box does, with every file verified
 * and the model made visible only when complete.
 *
 * <p>Typical use: {@code parse(input)} → optionally {@code listFiles(ref)} → {@code plan(ref, file)}; when the
 * plan {@linkplain DownloadPlan#needsChoice() needs a choice} show its GGUF files and plan again with the
 * chosen one; then {@code start(plan, listener)}.
 */
@ProviderType
public interface ModelDownloader {

    /**
     * Reads what the user typed: {@code user/model}, {@code user/model:branch},
     * {@code https://huggingface.co/user/model}
     * (optionally with {@code :branch} or {@code /tree/<branch>}), or a direct file URL
     * {@code …/user/model/resolve/<branch>/<file>} or {@code …/blob/<branch>/<file>}, which names the file.
     *
     * @throws DownloadException {@link DownloadException.Reason#INVALID_INPUT} with what is wrong and an example
     */
    RepoRef parse(String input) throws DownloadException;

    /** Every file of the repo at its branch, subfolders included ("Get file list"). */
    List<RemoteFile> listFiles(RepoRef ref) throws DownloadException;

    /**
     * Decides which files to fetch and where they go.
     *
     * @param file a file chosen by the user (usually a GGUF); when empty, {@code ref.file()} is used if present
     */
    DownloadPlan plan(RepoRef ref, Optional<String> file) throws DownloadException;

    /**
     * Starts downloading in the background.
     *
     * @throws DownloadException at once when the plan still needs a choice, another job is writing the same
     *         target, or the disk has too little free space; later errors arrive as {@link DownloadEvent.Failed}
     */
    DownloadJob start(DownloadPlan plan, DownloadListener listener) throws DownloadException;

    /** Jobs started by this service that are still running. */
    List<DownloadJob> running();
}
