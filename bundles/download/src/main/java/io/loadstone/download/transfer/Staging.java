package io.loadstone.download.transfer;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.RepoRef;

/**
 * The hidden staging area of one download: {@code <base>/.downloading/<target>/} holds the files while they
 * arrive ({@code <file>.part}) and once verified ({@code <file>}); {@code <target>.verified} lists the verified
 * ones (so a restarted process does not hash them again) and {@code <target>.lock} keeps two jobs, in this or
 * another process, from writing the same target. When everything is verified the folder (or the single file)
 * is renamed into {@code <base>/<target>} in one atomic step, so the models list never shows half a model.
 *
 * <p>Nothing here follows or creates symbolic links below {@code <base>}: every path component is checked, and
 * files are opened with {@link LinkOption#NOFOLLOW_LINKS}. The base folder itself may be a link (users point
 * {@code models} at a big disk that way).
 */
public final class Staging {

    /** The staging root's name under the models (or LoRA) folder; model scanners skip dot-folders. */
    public static final String ROOT = ".downloading";
    static final String PART = ".part";

    private final Path base;
    private final String targetName;

    public Staging(Path base, String targetName) {
        if (targetName.isEmpty() || targetName.contains("/") || targetName.contains("\\")
                || RepoRef.filePathProblem(targetName) != null || targetName.equals(ROOT)) {
            throw new IllegalArgumentException("Unsafe target name '" + targetName + "'");
        }
        this.base = base.toAbsolutePath().normalize();
        this.targetName = targetName;
    }

    public Path base() {
        return base;
    }

    public Path root() {
        return base.resolve(ROOT);
    }

    /** The staging folder of this download. */
    public Path dir() {
        return root().resolve(targetName);
    }

    /** Where the model appears when complete. */
    public Path target() {
        return base.resolve(targetName);
    }

    Path lockFile() {
        return root().resolve(targetName + ".lock");
    }

    Path manifest() {
        return root().resolve(targetName + ".verified");
    }

    /** Creates the base, staging root and staging folder, refusing links inside the base. */
    public void prepare() throws DownloadException {
        try {
            Files.createDirectories(base);
            mkdirNoLinks(root());
            mkdirNoLinks(dir());
        } catch (IOException e) {
            throw io("Cannot create the staging folder " + dir(), e);
        }
    }

    private static void mkdirNoLinks(Path dir) throws IOException, DownloadException {
        if (Files.isSymbolicLink(dir)) {
            throw new DownloadException(Reason.UNSAFE_PATH, dir + " is a symbolic link; the downloader does not"
                    + " follow links inside the models folder. Remove it and try again.");
        }
        try {
            Files.createDirectory(dir);
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                throw new DownloadException(Reason.IO, dir + " exists but is not a folder; remove it and try again");
            }
        }
    }

    /**
     * Takes the cross-process lock of this target.
     *
     * @throws DownloadException {@code BUSY} when another job (here or in another process) holds it
     */
    public FileLock lock() throws DownloadException {
        FileChannel ch = null;
        try {
            ch = FileChannel.open(lockFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS);
            FileLock lock = ch.tryLock();
            if (lock == null) {
                ch.close();
                throw busy();
            }
            return lock;
        } catch (OverlappingFileLockException e) {
            closeQuietly(ch);
            throw busy();
        } catch (IOException e) {
            closeQuietly(ch);
            throw io("Cannot create the lock file " + lockFile(), e);
        }
    }

    private DownloadException busy() {
        return new DownloadException(Reason.BUSY, "Another download into " + target() + " is already running"
                + " (it holds " + lockFile() + "); wait for it to finish or cancel it");
    }

    /** Releases the lock; when {@code finished}, the lock file goes too (while still held, so no one races it). */
    public void unlock(FileLock lock, boolean finished) {
        if (finished) {
            try {
                Files.deleteIfExists(lockFile());
            } catch (IOException ignored) {
                // a stale, unlocked lock file is harmless
            }
        }
        closeQuietly(lock.channel());
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // nothing to do
            }
        }
    }

    /**
     * The path of {@code localPath} inside the staging folder; creates missing parent folders, never through a
     * link.
     */
    public Path file(String localPath) throws DownloadException {
        String problem = RepoRef.filePathProblem(localPath);
        Path dir = dir();
        Path p = dir.resolve(localPath).normalize();
        if (problem != null || !p.startsWith(dir) || p.equals(dir)) {
            throw new DownloadException(Reason.UNSAFE_PATH, "Refusing to write '" + localPath + "' outside "
                    + dir + (problem == null ? "" : ": " + problem));
        }
        try {
            Path current = dir;
            if (Files.isSymbolicLink(current)) {
                throw new DownloadException(Reason.UNSAFE_PATH, current + " is a symbolic link; refusing to write");
            }
            Path rel = dir.relativize(p);
            for (int i = 0; i < rel.getNameCount() - 1; i++) {
                current = current.resolve(rel.getName(i));
                mkdirNoLinks(current);
            }
            if (Files.isSymbolicLink(p)) {
                Files.delete(p); // a link where a file should be: never write through it
            }
            return p;
        } catch (IOException e) {
            throw io("Cannot create a folder for " + localPath + " in " + dir, e);
        }
    }

    /** The partial file of {@code localPath}. */
    public Path part(String localPath) throws DownloadException {
        return file(localPath + PART);
    }

    /** A file verified in an earlier run (or earlier in this one). */
    public record Verified(String localPath, long size, Optional<String> sha256) {
    }

    /** What the manifest says is verified. */
    public Map<String, Verified> readManifest() {
        Map<String, Verified> map = new HashMap<>();
        try {
            if (!Files.isRegularFile(manifest(), LinkOption.NOFOLLOW_LINKS)) {
                return map;
            }
            for (String line : Files.readAllLines(manifest(), StandardCharsets.UTF_8)) {
                String[] f = line.split("\t", 3);
                if (f.length == 3) {
                    try {
                        map.put(f[2], new Verified(f[2], Long.parseLong(f[1]),
                                f[0].equals("-") ? Optional.empty() : Optional.of(f[0])));
                    } catch (NumberFormatException ignored) {
                        // a torn line from a crash: that file is simply checked again
                    }
                }
            }
        } catch (IOException ignored) {
            // an unreadable manifest only costs re-verification
        }
        return map;
    }

    /** Records a verified file. */
    public synchronized void addToManifest(Verified v) throws DownloadException {
        String line = v.sha256().orElse("-") + "\t" + v.size() + "\t" + v.localPath() + "\n";
        try {
            Files.writeString(manifest(), line, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw io("Cannot write " + manifest(), e);
        }
    }

    /** Bytes of {@code localPath} already in the staging folder, verified or partial. */
    public long stagedBytes(String localPath, long size, Optional<String> sha256, Map<String, Verified> manifest) {
        Path dir = dir();
        Path done = dir.resolve(localPath).normalize();
        Verified v = manifest.get(localPath);
        try {
            if (v != null && v.size() == size && v.sha256().equals(sha256) && done.startsWith(dir)
                    && Files.isRegularFile(done, LinkOption.NOFOLLOW_LINKS) && Files.size(done) == size) {
                return size;
            }
            Path part = dir.resolve(localPath + PART).normalize();
            if (sha256.isPresent() && part.startsWith(dir) && Files.isRegularFile(part, LinkOption.NOFOLLOW_LINKS)) {
                long have = Files.size(part);
                return have <= size ? have : 0;
            }
        } catch (IOException e) {
            return 0;
        }
        return 0;
    }

    /**
     * Deletes everything in the staging folder that is not a planned file or its partial file: leftovers of
     * an earlier plan must not end up in the model folder. Links are deleted, never followed.
     */
    public void clean(Set<String> localPaths) throws DownloadException {
        Path dir = dir();
        List<Path> all = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.forEach(all::add);
        } catch (NoSuchFileException e) {
            return;
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new DownloadException(Reason.IO, "Cannot read the staging folder " + dir + ": " + e.getMessage(), e);
        }
        all.sort(Comparator.comparingInt(Path::getNameCount).reversed());
        try {
            for (Path p : all) {
                if (p.equals(dir)) {
                    continue;
                }
                String rel = dir.relativize(p).toString().replace('\\', '/');
                boolean link = Files.isSymbolicLink(p);
                if (!link && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    try (Stream<Path> s = Files.list(p)) {
                        if (s.findAny().isEmpty()) {
                            Files.delete(p);
                        }
                    }
                    continue;
                }
                String plain = rel.endsWith(PART) ? rel.substring(0, rel.length() - PART.length()) : rel;
                if (link || !localPaths.contains(plain)) {
                    Files.delete(p);
                }
            }
        } catch (IOException e) {
            throw io("Cannot tidy the staging folder " + dir, e);
        }
    }

    /**
     * Moves the finished download into place in one rename: the folder, or for a single file the file (then the
     * empty staging folder is removed).
     *
     * @param singleFile the file's name inside the staging folder, or null to move the whole folder
     */
    public void publish(String singleFile) throws DownloadException {
        Path target = target();
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new DownloadException(Reason.ALREADY_EXISTS, target + " appeared while downloading; the download"
                    + " stays in " + dir() + ". Remove " + target + " and start again to finish it.");
        }
        try {
            if (singleFile == null) {
                Files.move(dir(), target, StandardCopyOption.ATOMIC_MOVE);
            } else {
                Files.move(dir().resolve(singleFile), target, StandardCopyOption.ATOMIC_MOVE);
                clean(Set.of());
                Files.deleteIfExists(dir());
            }
            Files.deleteIfExists(manifest());
        } catch (AtomicMoveNotSupportedException e) {
            throw io("Cannot rename " + dir() + " to " + target + " in one step", e);
        } catch (IOException e) {
            throw io("Cannot move the finished download from " + dir() + " to " + target, e);
        }
    }

    /** Removes the staging folder and manifest when they hold nothing (a download that had nothing to do). */
    public void removeIfEmpty() {
        try {
            if (Files.isDirectory(dir(), LinkOption.NOFOLLOW_LINKS)) {
                try (Stream<Path> s = Files.list(dir())) {
                    if (s.findAny().isPresent()) {
                        return;
                    }
                }
                Files.delete(dir());
            }
            Files.deleteIfExists(manifest());
        } catch (IOException ignored) {
            // an empty staging folder is harmless
        }
    }

    static DownloadException io(String what, IOException e) {
        String reason = e.getMessage() == null ? e.getClass().getSimpleName()
                : e.getClass().getSimpleName() + ": " + e.getMessage();
        return new DownloadException(Reason.IO, what + " (" + reason + ")", e);
    }
}
