package io.loadstone.llamacpp.loading;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.gguf.GgufException;
import io.loadstone.gguf.GgufFile;
import io.loadstone.gguf.GgufTensor;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.llamacpp.SecondaryContext;

/**
 * The LoRA adapters applied to one loaded model, for {@code LoadedModel.setLoras}: PEFT folders
 * are converted to llama.cpp's GGUF LoRA format ({@link PeftLoraConverter}, which checks them
 * against the base model in Java first), loaded with {@link NativeModel#loadLora} and activated
 * with their scales in the model's context and in its {@linkplain SecondaryContext secondary
 * contexts} (llama.cpp keeps the active set per context; the CFG context must see the same
 * weights). A GGUF LoRA ({@code .gguf} file, or a folder holding one and no
 * {@code adapter_config.json}) is used as it is, after the same checks.
 *
 * <p>Where conversions go: with a cache folder (the loader bundle's data area), each converted
 * file is kept under a name derived from the adapter folder, the size and modification time of
 * its two files, the base model file (path, size, time) and {@link PeftLoraConverter#FORMAT}, so an
 * adapter is converted once per base model and not again after a reload or restart, while an
 * edited or re-downloaded adapter (new size or time) is converted afresh and its stale conversion
 * deleted. Size and time rather than a content hash: hashing a large adapter on every switch would
 * cost as much as converting it. Nothing is ever written into the user's loras folder. Without a
 * cache folder (tests, no data area) a temporary file is used and deleted as soon as llama.cpp has
 * read it: {@code llama_adapter_lora_init} copies the tensors into its own buffers.
 *
 * <p>Not thread-safe on its own: a model calls it under the lock its generations hold, so a running
 * generation finishes with the adapters it started with.
 */
public final class AppliedLoras implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(AppliedLoras.class.getName());

    /** One applied adapter: what was asked for and what llama.cpp holds for it. */
    private record Active(LoraAdapter requested, Path folder, String fingerprint,
            io.loadstone.llamacpp.LoraAdapter loaded) {
    }

    private final NativeModel model;
    private final GgufFile base;
    private final Path cacheDir;
    private final List<SecondaryContext> contexts;
    private List<Active> active = List.of();

    /**
     * @param model    the model the adapters are loaded for
     * @param base     its validated GGUF file (shapes the adapters are checked against)
     * @param cacheDir where converted adapters are kept, or null for temporary files
     * @param others   further contexts of {@code model} that must run with the same adapters
     */
    public AppliedLoras(NativeModel model, GgufFile base, Path cacheDir, List<? extends SecondaryContext> others) {
        this.model = model;
        this.base = base;
        this.cacheDir = cacheDir;
        this.contexts = List.copyOf(others);
    }

    /** The adapters applied now, in order, as they were requested. */
    public synchronized List<LoraAdapter> requested() {
        return active.stream().map(Active::requested).toList();
    }

    /** How many adapters llama.cpp holds for this model now (each applied one, nothing else). */
    public synchronized int loadedCount() {
        return loaded().size();
    }

    /** The native adapters behind {@link #requested()} (one each); those of an earlier set are freed. */
    public synchronized List<io.loadstone.llamacpp.LoraAdapter> loaded() {
        return active.stream().map(Active::loaded).distinct().toList();
    }

    /**
     * Applies exactly {@code wanted} (an empty list removes all). Adapters that stay applied are
     * not loaded again (only their scale is set); those no longer wanted are freed.
     *
     * @return whether the weights changed (callers then forget their KV caches)
     * @throws ModelLoadException an adapter cannot be read or does not fit this model; the
     *                            previous set is then applied again
     */
    public synchronized boolean apply(List<LoraAdapter> wanted) throws ModelLoadException {
        Set<Path> seen = new HashSet<>();
        List<Path> folders = new ArrayList<>();
        List<String> fingerprints = new ArrayList<>();
        for (LoraAdapter a : wanted) {
            Path folder = a.folder().toAbsolutePath().normalize();
            if (!seen.add(folder)) {
                throw new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, "lora_names",
                        "The LoRA " + a.name() + " (" + folder + ") is listed twice.",
                        "List each adapter once; its scale sets how strongly it applies.", null);
            }
            folders.add(folder);
            fingerprints.add(fingerprint(folder));
        }
        if (sameAsActive(wanted, folders, fingerprints)) {
            return false;
        }
        List<Active> next = new ArrayList<>();
        List<io.loadstone.llamacpp.LoraAdapter> fresh = new ArrayList<>();
        try {
            for (int i = 0; i < wanted.size(); i++) {
                Path folder = folders.get(i);
                String fp = fingerprints.get(i);
                io.loadstone.llamacpp.LoraAdapter loaded = null;
                for (Active a : active) {
                    if (a.folder().equals(folder) && a.fingerprint().equals(fp)) {
                        loaded = a.loaded();
                    }
                }
                if (loaded == null) {
                    loaded = load(wanted.get(i), folder, fp);
                    fresh.add(loaded);
                }
                next.add(new Active(wanted.get(i), folder, fp, loaded));
            }
            activate(next);
        } catch (ModelLoadException | RuntimeException e) {
            for (io.loadstone.llamacpp.LoraAdapter f : fresh) {
                f.close(); // deactivates it in every context, then frees it
            }
            try {
                activate(active);
            } catch (ModelLoadException restore) {
                e.addSuppressed(restore);
            }
            throw e;
        }
        for (Active old : active) {
            if (next.stream().noneMatch(n -> n.loaded() == old.loaded())) {
                old.loaded().close();
            }
        }
        active = List.copyOf(next);
        return true;
    }

    private boolean sameAsActive(List<LoraAdapter> wanted, List<Path> folders, List<String> fingerprints) {
        if (wanted.size() != active.size()) {
            return false;
        }
        for (int i = 0; i < wanted.size(); i++) {
            Active a = active.get(i);
            if (!a.folder().equals(folders.get(i)) || !a.fingerprint().equals(fingerprints.get(i))
                    || a.requested().scale() != wanted.get(i).scale()) {
                return false;
            }
        }
        // Same adapters, same order, same scales: only names may differ.
        List<Active> renamed = new ArrayList<>();
        for (int i = 0; i < wanted.size(); i++) {
            Active a = active.get(i);
            renamed.add(new Active(wanted.get(i), a.folder(), a.fingerprint(), a.loaded()));
        }
        active = List.copyOf(renamed);
        return true;
    }

    /** Exactly {@code set} active, with its scales, in every context. */
    private void activate(List<Active> set) throws ModelLoadException {
        Active current = null;
        try {
            model.clearLoras();
            for (SecondaryContext c : contexts) {
                c.clearLoras();
            }
            for (Active a : set) {
                current = a;
                float scale = (float) a.requested().scale();
                model.setLora(a.loaded(), scale);
                for (SecondaryContext c : contexts) {
                    c.setLora(a.loaded(), scale);
                }
            }
        } catch (LlamaException e) {
            throw new ModelLoadException("llama.cpp could not activate the LoRA adapter"
                    + (current == null ? "s" : " " + current.folder()) + " on " + model.file().getFileName() + ": "
                    + e.getMessage(), "Reload the model and apply the adapters again.", e);
        }
    }

    /** Checks, converts (or finds the conversion) and loads one adapter, inactive. */
    private io.loadstone.llamacpp.LoraAdapter load(LoraAdapter requested, Path folder, String fingerprint)
            throws ModelLoadException {
        Optional<Path> gguf = ggufAdapter(folder);
        Path file;
        boolean temporary = false;
        if (gguf.isPresent()) {
            file = gguf.get();
            checkGgufAdapter(folder, file);
        } else if (cacheDir == null) {
            try {
                file = Files.createTempFile("loadstone-lora-", ".gguf");
            } catch (IOException e) {
                throw new ModelLoadException("Cannot create a temporary file to convert the LoRA " + folder + ": "
                        + e.getMessage(), "Free some space in " + System.getProperty("java.io.tmpdir") + ".", e);
            }
            temporary = true;
            try {
                PeftLoraConverter.convert(folder, base, file);
            } catch (ModelLoadException | RuntimeException e) {
                deleteQuietly(file);
                throw e;
            }
        } else {
            file = cached(folder, fingerprint);
        }
        try {
            return model.loadLora(file);
        } catch (LlamaException e) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, String.valueOf(folder.getFileName()),
                    "llama.cpp could not load the LoRA adapter " + folder + " (" + requested.name()
                    + ") for " + model.file().getFileName() + ": " + e.getMessage(), "Use a LoRA trained on this "
                            + "model's base model.", e);
        } finally {
            if (temporary) {
                deleteQuietly(file);
            }
        }
    }

    /** The conversion of {@code folder} for this base model in the cache folder, made if missing. */
    private Path cached(Path folder, String fingerprint) throws ModelLoadException {
        String baseFp;
        try {
            baseFp = base.path().toAbsolutePath().normalize() + "|" + Files.size(base.path()) + "|"
                    + Files.getLastModifiedTime(base.path()).toMillis();
        } catch (IOException e) {
            throw new ModelLoadException("Cannot read " + base.path() + ": " + e.getMessage(),
                    "Check that the model file is still there.", e);
        }
        // One conversion per (adapter folder, base model): the prefix finds stale ones to delete.
        String pair = sha256(folder + "|" + base.path().toAbsolutePath().normalize()).substring(0, 16);
        String key = sha256(PeftLoraConverter.FORMAT + "|" + fingerprint + "|" + baseFp).substring(0, 16);
        String name = sanitize(folder.getFileName() == null ? "lora" : folder.getFileName().toString());
        Path target = cacheDir.resolve(pair + "-" + key + "-" + name + ".gguf");
        try {
            Files.createDirectories(cacheDir);
            if (Files.isRegularFile(target)) {
                try {
                    GgufFile.read(target); // a damaged cache file (disk full, killed mid-write) is redone
                    return target;
                } catch (GgufException e) {
                    LOG.log(System.Logger.Level.WARNING, "Converting " + folder + " again: the cached conversion "
                            + target + " is unreadable: " + e.getMessage());
                    Files.deleteIfExists(target);
                }
            }
            Path part = Files.createTempFile(cacheDir, pair + "-", ".part");
            try {
                PeftLoraConverter.convert(folder, base, part);
                Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                deleteQuietly(part);
            }
            try (Stream<Path> s = Files.list(cacheDir)) {
                for (Path stale : s.filter(p -> p.getFileName().toString().startsWith(pair + "-")
                        && !p.equals(target)).toList()) {
                    deleteQuietly(stale);
                }
            }
            return target;
        } catch (IOException e) {
            throw new ModelLoadException("Cannot write the converted LoRA " + folder + " to " + cacheDir + ": "
                    + e.getMessage(), "Free some disk space, or check the permissions of " + cacheDir + ".", e);
        }
    }

    /** A GGUF LoRA given directly: a .gguf file, or a folder with one and no adapter_config.json. */
    private static Optional<Path> ggufAdapter(Path folder) throws ModelLoadException {
        if (Files.isRegularFile(folder)) {
            if (GgufSelection.isGgufName(folder)) {
                return Optional.of(folder);
            }
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, String.valueOf(folder.getFileName()),
                    "The LoRA " + folder + " is a file but not a .gguf adapter.",
                    "Pick a PEFT adapter folder (adapter_config.json + adapter_model.safetensors) or a GGUF LoRA.",
                    null);
        }
        if (!Files.isDirectory(folder) || Files.exists(folder.resolve("adapter_config.json"))) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.list(folder)) {
            List<Path> ggufs = s.filter(Files::isRegularFile).filter(GgufSelection::isGgufName).sorted().toList();
            return ggufs.size() == 1 ? Optional.of(ggufs.getFirst()) : Optional.empty();
        } catch (IOException e) {
            throw new ModelLoadException("Cannot list the LoRA folder " + folder + ": " + e.getMessage(),
                    "Check that it is readable.", e);
        }
    }

    /** What llama.cpp would check natively, in Java first, with a message that says what is wrong. */
    private void checkGgufAdapter(Path folder, Path file) throws ModelLoadException {
        GgufFile a;
        try {
            a = GgufFile.read(file);
        } catch (GgufException e) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, String.valueOf(folder.getFileName()),
                    "The LoRA " + folder + " is not a usable GGUF file: " + e.getMessage(),
                    "Download or convert the adapter again.", e);
        }
        String model = base.path().getFileName().toString();
        if (!a.string("general.type").orElse("").equals("adapter")
                || !a.string("adapter.type").orElse("").equals("lora")) {
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, String.valueOf(file.getFileName()),
                    file + " is not a GGUF LoRA adapter (general.type="
                    + a.string("general.type").orElse("none") + ").", "Pick a LoRA converted with llama.cpp's "
                            + "convert_lora_to_gguf.py, or the PEFT folder itself.", null);
        }
        if (!a.architecture().isEmpty() && !a.architecture().equals(base.architecture())) {
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, String.valueOf(file.getFileName()),
                    "The LoRA " + file + " was made for a '" + a.architecture() + "' model, but "
                    + model + " is '" + base.architecture() + "'.", "Use a LoRA trained on this model's base model.",
                    null);
        }
        for (GgufTensor t : a.tensors()) {
            String n = t.name();
            boolean isA = n.endsWith(".lora_a");
            if (!isA && !n.endsWith(".lora_b")) {
                continue;
            }
            String target = n.substring(0, n.length() - ".lora_a".length());
            Optional<GgufTensor> w = base.tensor(target);
            long[] ne = t.dims();
            boolean fits = w.isPresent() && w.get().rank() == 2 && ne.length == 2
                    && (isA ? ne[0] == w.get().dim(0) : ne[1] == w.get().dim(1));
            if (!fits) {
                throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, String.valueOf(file.getFileName()),
                        "The LoRA " + file + " was made for another model: its tensor " + n + " "
                        + java.util.Arrays.toString(ne) + (w.isEmpty() ? " changes a weight " + model
                                + " does not have" : " does not fit " + target + " " + java.util.Arrays.toString(w
                                        .get().dims()) + " of " + model) + ".",
                        "Use a LoRA trained on this model's base model.", null);
            }
        }
    }

    /** Names, sizes and modification times of the adapter's files (a folder's top level). */
    private static String fingerprint(Path folder) throws ModelLoadException {
        StringBuilder sb = new StringBuilder(folder.toString());
        try {
            List<Path> files = List.of(folder);
            if (Files.isDirectory(folder)) {
                try (Stream<Path> s = Files.list(folder)) {
                    files = s.sorted().toList();
                }
            }
            for (Path f : files) {
                if (Files.isRegularFile(f)) {
                    sb.append('|').append(f.getFileName()).append('|').append(Files.size(f)).append('|')
                            .append(Files.getLastModifiedTime(f).toMillis());
                }
            }
        } catch (IOException e) {
            throw new ModelLoadException("Cannot read the LoRA " + folder + ": " + e.getMessage(),
                    "Check that the adapter folder is readable.", e);
        }
        return sb.toString();
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    private static String sanitize(String name) {
        String s = name.replaceAll("[^A-Za-z0-9._-]", "_");
        return (s.length() > 60 ? s.substring(0, 60) : s).toLowerCase(Locale.ROOT);
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "Cannot delete " + p + ": " + e.getMessage());
        }
    }

    /** Frees every loaded adapter (closing the model frees them too). */
    @Override
    public synchronized void close() {
        for (Active a : active) {
            a.loaded().close();
        }
        active = List.of();
    }
}
