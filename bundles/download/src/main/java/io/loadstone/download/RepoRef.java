package io.loadstone.download;

import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A model repository on the Hub, at a branch, optionally naming one file (what a direct
 * {@code …/resolve/<branch>/<file>} URL points at).
 *
 * <p>The constructor enforces the Hub's naming rules, so a {@code RepoRef} can always be put into a
 * URL and a folder name safely:
 * <ul>
 * <li>repo id {@code user/model}: each part starts with a letter or digit, then letters, digits,
 * {@code . _ -}; no {@code --} or {@code ..}; at most 96 characters per part; the last character is
 * a letter, digit or {@code _};</li>
 * <li>branch: letters, digits, {@code . _ / -}; no {@code ..}, no empty {@code /} segment;</li>
 * <li>file: a relative path without {@code ..}, {@code .}, empty segments, backslashes, colons or
 * control characters.</li>
 * </ul>
 *
 * @param repo   {@code user/model}
 * @param branch branch, tag or revision ({@code main} unless the user said otherwise)
 * @param file   a single file inside the repo, or empty
 */
public record RepoRef(String repo, String branch, Optional<String> file) {

    /** The Hub's default branch. */
    public static final String MAIN = "main";

    private static final Pattern REPO_ID = Pattern.compile(
            "[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}");
    private static final Pattern BRANCH = Pattern.compile("[A-Za-z0-9._/-]{1,255}");

    public RepoRef {
        Objects.requireNonNull(repo, "repo");
        Objects.requireNonNull(branch, "branch");
        Objects.requireNonNull(file, "file");
        String problem = repoIdProblem(repo);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        problem = branchProblem(branch);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        if (file.isPresent()) {
            problem = filePathProblem(file.get());
            if (problem != null) {
                throw new IllegalArgumentException(problem);
            }
        }
    }

    /** {@code user/model} at {@code main}. */
    public static RepoRef of(String repo) {
        return new RepoRef(repo, MAIN, Optional.empty());
    }

    /** {@code user/model} at a branch. */
    public static RepoRef of(String repo, String branch) {
        return new RepoRef(repo, branch, Optional.empty());
    }

    /** The same repo and branch, naming one file. */
    public RepoRef withFile(String path) {
        return new RepoRef(repo, branch, Optional.of(path));
    }

    /** The same repo and branch, naming no file. */
    public RepoRef withoutFile() {
        return new RepoRef(repo, branch, Optional.empty());
    }

    /** The user or organisation part. */
    public String owner() {
        return repo.substring(0, repo.indexOf('/'));
    }

    /** The model part. */
    public String name() {
        return repo.substring(repo.indexOf('/') + 1);
    }

    /**
     * The folder a whole-repo download goes to, as text-generation-webui names it:
     * {@code user_model}, plus {@code _branch} when the branch is not {@code main}
     * ({@code /} in the branch becomes {@code _}).
     */
    public String folderName() {
        String base = owner() + "_" + name();
        return MAIN.equals(branch) ? base : base + "_" + branch.replace('/', '_');
    }

    /** {@code user/model}, {@code user/model:branch}, plus {@code /file} when one is named. */
    @Override
    public String toString() {
        String s = MAIN.equals(branch) ? repo : repo + ":" + branch;
        return file.map(f -> s + " (" + f + ")").orElse(s);
    }

    /** Why {@code repo} is not a valid Hub model id, or null when it is. */
    public static String repoIdProblem(String repo) {
        if (repo == null || repo.isEmpty()) {
            return "The model name is empty: enter it as user/model, for example facebook/opt-125m";
        }
        if (!REPO_ID.matcher(repo).matches()) {
            return "'" + printable(repo) + "' is not a Hugging Face model id: use user/model, each part starting with"
                    + " a letter or digit and made of letters, digits, '.', '_' and '-' (at most 96 each),"
                    + " for example facebook/opt-125m";
        }
        if (repo.contains("--") || repo.contains("..")) {
            return "'" + repo + "' is not a Hugging Face model id: '--' and '..' are not allowed in it";
        }
        for (String part : repo.split("/")) {
            char last = part.charAt(part.length() - 1);
            if (last == '.' || last == '-') {
                return "'" + repo + "' is not a Hugging Face model id: a part cannot end with '" + last + "'";
            }
        }
        return null;
    }

    /** Why {@code branch} is not a valid branch name, or null when it is. */
    public static String branchProblem(String branch) {
        if (branch == null || branch.isEmpty()) {
            return "The branch is empty: leave out the ':' or name a branch, for example user/model:main";
        }
        if (!BRANCH.matcher(branch).matches()) {
            return "Invalid branch name '" + printable(branch) + "': only letters, digits, '.', '_', '/' and '-'"
                    + " are allowed";
        }
        if (branch.contains("..") || branch.startsWith("/") || branch.endsWith("/") || branch.contains("//")
                || branch.equals(".") || branch.startsWith("./") || branch.endsWith("/.") || branch.contains("/./")) {
            return "Invalid branch name '" + branch + "': '..', '.' as a part, a leading or trailing '/' and '//'"
                    + " are not allowed";
        }
        return null;
    }

    /**
     * Why {@code path} is not a safe relative file path inside a repository, or null when it is.
     * Safe means: written under a target folder it stays inside that folder on every OS.
     */
    public static String filePathProblem(String path) {
        if (path == null || path.isEmpty()) {
            return "The file name is empty";
        }
        if (path.length() > 1024) {
            return "The file name is longer than 1024 characters";
        }
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                return "The file name '" + printable(path) + "' contains a control character";
            }
            if (c == '\\') {
                return "The file name '" + path + "' contains a backslash";
            }
            if (c == ':') {
                // Drive letters (C:evil) and NTFS alternate streams (a:b) both need a colon.
                return "The file name '" + path + "' contains ':' (a drive letter or stream name)";
            }
        }
        if (path.startsWith("/")) {
            return "The file name '" + path + "' is an absolute path";
        }
        for (String segment : path.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                return "The file name '" + path + "' has an empty, '.' or '..' path segment";
            }
        }
        return null;
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(200).forEach(cp -> {
            if (cp < 0x20 || cp == 0x7f) {
                b.append(String.format("\\u%04x", cp));
            } else {
                b.appendCodePoint(cp);
            }
        });
        return b.toString();
    }
}
