package io.loadstone.download.selection;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.DownloadPlan.Layout;
import io.loadstone.download.GgufChoice;
import io.loadstone.download.RemoteFile;
import io.loadstone.download.RepoRef;

/**
 * Chooses which files of a repo to download, after text-generation-webui's
 * {@code get_download_links_from_huggingface}, with its known failures fixed:
 * <ul>
 * <li>Model weights are {@code *.safetensors}, {@code (pytorch|adapter|gptq)_model*.bin}, {@code *.pt}/{@code
 * *.pth} and {@code *.gguf}; tokenizer files ({@code tokenizer*.model}, {@code *.tiktoken}, …) and text files
 * ({@code .json .txt .md .py .jinja}) always come along; anything else (images, ONNX, msgpack, h5,
 * {@code training_args.bin}) is skipped. Names are matched whole (tgwui's prefix match took {@code .pth} for
 * {@code .pt}).</li>
 * <li>When safetensors exist, {@code .bin}/{@code .pt} weights and {@code pytorch_model.bin.index.json} are left
 * out, and so are Mistral-style {@code consolidated*.safetensors} duplicates when HF-layout safetensors are
 * there (tgwui fetched both, doubling the size).</li>
 * <li>A repo with HF-format weights and GGUF files gets the HF weights; the GGUFs are listed in the notes.</li>
 * <li>A GGUF-only repo with several GGUF models is <em>not</em> guessed at (tgwui took {@code q4_k_m} or
 * nothing): the plan lists the choices. With exactly one GGUF model, that one is taken.</li>
 * <li>A split GGUF ({@code -00001-of-0000N.gguf}) is chosen and fetched as a whole.</li>
 * <li>{@code adapter_config.json} at the repo root makes it a LoRA.</li>
 * <li>Subfolders are listed recursively (tgwui saw only the top level); their files follow the same rules.</li>
 * </ul>
 */
public final class FileSelector {

    /** The metadata file the downloader writes itself. */
    public static final String METADATA_FILE = "huggingface-metadata.txt";

    private static final Pattern PYTORCH = Pattern.compile("(pytorch|adapter|gptq)_model.*\\.bin");
    // tokenizer.model.v3 (Mistral v0.3) included: tgwui's prefix match took it, a whole-name match must too.
    private static final Pattern TOKENIZER =
            Pattern.compile("(tokenizer|ice|spiece).*\\.model(\\.[^.]+)?|.*\\.tiktoken");
    private static final Pattern TEXT = Pattern.compile(".*\\.(txt|json|py|md|jinja)");
    private static final Pattern SPLIT = Pattern.compile("(.*)-(\\d{5})-of-(\\d{5})\\.gguf");

    /** What kind of file, by its name. */
    enum Kind {
        GGUF, SAFETENSORS, PYTORCH, PT, TOKENIZER, TEXT, OTHER
    }

    /**
     * The outcome.
     *
     * @param layout     how the files land
     * @param targetName the model folder or file name (under the models or LoRA folder)
     * @param lora       true for a LoRA repo
     * @param files      files to fetch (empty for {@link Layout#CHOOSE_GGUF})
     * @param choices    GGUF models to choose from (for {@link Layout#CHOOSE_GGUF}), smallest first
     * @param notes      what was left out and why
     */
    public record Selection(Layout layout, String targetName, boolean lora, List<RemoteFile> files,
            List<GgufChoice> choices, List<String> notes) {
        public Selection {
            files = List.copyOf(files);
            choices = List.copyOf(choices);
            notes = List.copyOf(notes);
        }
    }

    static Kind kind(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (n.endsWith(".gguf")) {
            return Kind.GGUF;
        }
        if (n.endsWith(".safetensors")) {
            return Kind.SAFETENSORS;
        }
        if (PYTORCH.matcher(n).matches()) {
            return Kind.PYTORCH;
        }
        if (n.endsWith(".pt") || n.endsWith(".pth")) {
            return Kind.PT;
        }
        if (TOKENIZER.matcher(n).matches()) {
            return Kind.TOKENIZER;
        }
        if (TEXT.matcher(n).matches()) {
            return Kind.TEXT;
        }
        return Kind.OTHER;
    }

    /**
     * Selects files.
     *
     * @param file a file the user chose (exact repo path, or a file name that is unique in the repo)
     * @throws DownloadException {@code NOT_FOUND} when the chosen file is not there or nothing is left to fetch
     */
    public Selection select(RepoRef ref, List<RemoteFile> listing, Optional<String> file) throws DownloadException {
        boolean lora = listing.stream().anyMatch(f -> f.path().equals("adapter_config.json"));
        if (file.isPresent()) {
            return selectFile(ref, listing, file.get(), lora);
        }
        List<String> notes = new ArrayList<>();
        List<RemoteFile> weights = new ArrayList<>();
        List<RemoteFile> texts = new ArrayList<>();
        List<RemoteFile> ggufs = new ArrayList<>();
        int other = 0;
        for (RemoteFile f : listing) {
            if (f.name().equals(METADATA_FILE)) {
                notes.add(f.path() + ": replaced by the downloader's own " + METADATA_FILE);
                continue;
            }
            switch (kind(f.name())) {
                case GGUF -> ggufs.add(f);
                case SAFETENSORS, PYTORCH, PT -> weights.add(f);
                case TOKENIZER, TEXT -> texts.add(f);
                case OTHER -> other++;
            }
        }
        if (other > 0) {
            notes.add(other + (other == 1 ? " file" : " files")
                    + " of other kinds (images, ONNX, msgpack, h5, …) not needed by Loadstone's loaders");
        }
        boolean hasSafetensors = weights.stream().anyMatch(f -> kind(f.name()) == Kind.SAFETENSORS);
        if (hasSafetensors) {
            boolean hfLayout = weights.stream().anyMatch(f -> kind(f.name()) == Kind.SAFETENSORS
                    && !f.name().toLowerCase(Locale.ROOT).startsWith("consolidated"));
            List<RemoteFile> kept = new ArrayList<>();
            for (RemoteFile f : weights) {
                Kind k = kind(f.name());
                String lower = f.name().toLowerCase(Locale.ROOT);
                if (k == Kind.PYTORCH || k == Kind.PT) {
                    notes.add(f.path() + ": skipped, the same weights are there as safetensors");
                } else if (hfLayout && lower.startsWith("consolidated")) {
                    notes.add(f.path() + ": skipped, a duplicate of the model*.safetensors weights in another layout");
                } else {
                    kept.add(f);
                }
            }
            weights = kept;
            texts.removeIf(f -> {
                boolean binIndex = f.name().equals("pytorch_model.bin.index.json");
                if (binIndex) {
                    notes.add(f.path() + ": skipped, it indexes the .bin weights that are not downloaded");
                }
                return binIndex;
            });
        }
        Map<String, List<RemoteFile>> groups = ggufGroups(ggufs, notes);
        if (!weights.isEmpty()) {
            if (!groups.isEmpty()) {
                notes.add("this repo also has " + groups.size() + " GGUF model(s); name one as the file to download"
                        + " it instead of the " + (hasSafetensors ? "safetensors" : "PyTorch") + " weights");
            }
            return folder(ref, lora, weights, texts, notes);
        }
        if (groups.isEmpty()) {
            if (texts.isEmpty()) {
                throw new DownloadException(Reason.NOT_FOUND, "No files to download in " + ref + ": its "
                        + listing.size() + " file(s) include no model weights, tokenizer or config files");
            }
            notes.add("no model weights in this repo: only its text and tokenizer files are downloaded");
            return folder(ref, lora, List.of(), texts, notes);
        }
        List<GgufChoice> choices = choices(groups);
        if (choices.size() == 1) {
            return gguf(choices.get(0), lora, notes);
        }
        return new Selection(Layout.CHOOSE_GGUF, "", lora, List.of(), choices, notes);
    }

    private static Selection folder(RepoRef ref, boolean lora, List<RemoteFile> weights, List<RemoteFile> texts,
            List<String> notes) {
        List<RemoteFile> files = new ArrayList<>(texts);
        files.addAll(weights);
        files.sort(Comparator.comparing(RemoteFile::path));
        return new Selection(Layout.FOLDER, ref.folderName(), lora, files, List.of(), notes);
    }

    private Selection selectFile(RepoRef ref, List<RemoteFile> listing, String wanted, boolean lora)
            throws DownloadException {
        String w = wanted.strip();
        while (w.startsWith("/")) {
            w = w.substring(1);
        }
        RemoteFile match = null;
        for (RemoteFile f : listing) {
            if (f.path().equals(w)) {
                match = f;
            }
        }
        if (match == null) {
            final String name = w;
            List<RemoteFile> byName = listing.stream().filter(f -> f.name().equals(name)).toList();
            if (byName.size() == 1) {
                match = byName.get(0);
            } else if (byName.size() > 1) {
                throw new DownloadException(Reason.INVALID_INPUT, "'" + w + "' is in several folders of " + ref
                        + "; give its full path: " + String.join(", ", byName.stream().map(RemoteFile::path).toList()));
            }
        }
        if (match == null) {
            throw new DownloadException(Reason.NOT_FOUND, "File '" + w + "' not found in " + ref + "; "
                    + suggestions(listing, w));
        }
        List<String> notes = new ArrayList<>();
        if (kind(match.name()) == Kind.GGUF) {
            List<RemoteFile> ggufs = listing.stream().filter(f -> kind(f.name()) == Kind.GGUF).toList();
            Map<String, List<RemoteFile>> groups = ggufGroups(ggufs, new ArrayList<>());
            String key = groupKey(match.path());
            List<RemoteFile> group = groups.get(key);
            if (group == null) {
                Matcher m = SPLIT.matcher(match.path());
                int total = m.matches() ? Integer.parseInt(m.group(3)) : 1;
                throw new DownloadException(Reason.NOT_FOUND, "'" + match.path() + "' is part of a model split into "
                        + total + " files, but " + ref + " does not have all of them; choose another file");
            }
            listing.stream().filter(f -> f.name().toLowerCase(Locale.ROOT).startsWith("mmproj")
                    && kind(f.name()) == Kind.GGUF && !group.contains(f)).findFirst()
                    .ifPresent(f -> notes.add("this repo also has " + f.path()
                            + " (a vision projector); download it as well if you need image input"));
            return gguf(choice(group), lora, notes);
        }
        return new Selection(Layout.FOLDER, ref.folderName(), lora, List.of(match), List.of(), notes);
    }

    private static String suggestions(List<RemoteFile> listing, String wanted) {
        String lower = wanted.toLowerCase(Locale.ROOT);
        String stem = lower.contains(".") ? lower.substring(0, lower.lastIndexOf('.')) : lower;
        List<String> similar = listing.stream().map(RemoteFile::path)
                .filter(p -> p.toLowerCase(Locale.ROOT).contains(stem)
                        || !baseStem(p).isEmpty() && stem.contains(baseStem(p))).limit(10)
                .toList();
        if (!similar.isEmpty()) {
            return "did you mean: " + String.join(", ", similar) + "?";
        }
        List<String> ggufs = listing.stream().map(RemoteFile::path).filter(p -> kind(p) == Kind.GGUF).limit(20)
                .toList();
        return ggufs.isEmpty() ? "use \"Get file list\" to see its files"
                : "its GGUF files are: " + String.join(", ", ggufs);
    }

    private static String baseStem(String path) {
        String n = path.substring(path.lastIndexOf('/') + 1).toLowerCase(Locale.ROOT);
        return n.contains(".") ? n.substring(0, n.lastIndexOf('.')) : n;
    }

    private static Selection gguf(GgufChoice choice, boolean lora, List<String> notes) {
        if (!choice.isSplit()) {
            return new Selection(Layout.SINGLE_FILE, choice.parts().get(0).name(), lora, choice.parts(), List.of(),
                    notes);
        }
        Matcher m = SPLIT.matcher(choice.parts().get(0).name());
        String folder = m.matches() ? m.group(1) : choice.parts().get(0).name();
        return new Selection(Layout.SPLIT_GGUF, folder, lora, choice.parts(), List.of(), notes);
    }

    /** Single GGUFs and complete split sets, keyed by path (split sets: folder + prefix + part count). */
    private static Map<String, List<RemoteFile>> ggufGroups(List<RemoteFile> ggufs, List<String> notes) {
        Map<String, TreeMap<Integer, RemoteFile>> parts = new LinkedHashMap<>();
        for (RemoteFile f : ggufs) {
            Matcher m = SPLIT.matcher(f.path());
            int part = m.matches() ? Integer.parseInt(m.group(2)) : 1;
            parts.computeIfAbsent(groupKey(f.path()), k -> new TreeMap<>()).put(part, f);
        }
        Map<String, List<RemoteFile>> groups = new LinkedHashMap<>();
        parts.forEach((key, byPart) -> {
            Matcher m = SPLIT.matcher(byPart.firstEntry().getValue().path());
            int total = m.matches() ? Integer.parseInt(m.group(3)) : 1;
            boolean complete = byPart.size() == total && byPart.firstKey() == 1 && byPart.lastKey() == total;
            if (complete) {
                groups.put(key, List.copyOf(byPart.values()));
            } else {
                notes.add(key + ": split into " + total + " parts but only " + byPart.size()
                        + " are in the repo, so it cannot be downloaded");
            }
        });
        return groups;
    }

    private static String groupKey(String path) {
        Matcher m = SPLIT.matcher(path);
        return m.matches() ? m.group(1) + "-*-of-" + m.group(3) + ".gguf" : path;
    }

    private static List<GgufChoice> choices(Map<String, List<RemoteFile>> groups) {
        List<GgufChoice> choices = new ArrayList<>();
        for (List<RemoteFile> g : groups.values()) {
            choices.add(choice(g));
        }
        choices.sort(Comparator.comparingLong(GgufChoice::size).thenComparing(GgufChoice::file));
        return choices;
    }

    private static GgufChoice choice(List<RemoteFile> group) {
        return new GgufChoice(group.get(0).path(), group.stream().mapToLong(RemoteFile::size).sum(), group);
    }
}
