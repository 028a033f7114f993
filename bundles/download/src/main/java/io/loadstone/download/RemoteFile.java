package io.loadstone.download;

import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * One file of a repository as the Hub lists it.
 *
 * @param path   path inside the repository ({@code /}-separated, checked by {@link RepoRef#filePathProblem})
 * @param size   size in bytes
 * @param sha256 the LFS object id (lower-case hex SHA-256 of the content) for files stored in LFS;
 *               empty for small files kept in git, which are checked by size only
 */
public record RemoteFile(String path, long size, Optional<String> sha256) {

    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

    public RemoteFile {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(sha256, "sha256");
        String problem = RepoRef.filePathProblem(path);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        if (size < 0) {
            throw new IllegalArgumentException("Negative size " + size + " for " + path);
        }
        if (sha256.isPresent() && !SHA256.matcher(sha256.get()).matches()) {
            throw new IllegalArgumentException("Not a lower-case hex SHA-256 for " + path + ": " + sha256.get());
        }
    }

    /** The last path segment. */
    public String name() {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    /** True for files stored in LFS, which have a SHA-256 to verify. */
    public boolean isLfs() {
        return sha256.isPresent();
    }
}
