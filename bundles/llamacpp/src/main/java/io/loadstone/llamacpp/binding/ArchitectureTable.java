package io.loadstone.llamacpp.binding;

import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Which GGUF {@code general.architecture} values one native llama.cpp build can run, so that a
 * file it cannot run is refused in Java, with the reason, before any native call.
 *
 * @param build         the build, e.g. {@code "llama.cpp-b4916"}
 * @param runs          the architectures the build loads and evaluates
 * @param namedNotRun   architectures whose name the build knows without running them, with why
 */
public record ArchitectureTable(String build, Set<String> runs, Map<String, String> namedNotRun) {

    public ArchitectureTable {
        runs = Set.copyOf(runs);
        namedNotRun = Map.copyOf(namedNotRun);
    }

    /** Why this build cannot run {@code architecture}, or empty when it can. */
    public Optional<String> problem(String architecture) {
        if (runs.contains(architecture)) {
            return Optional.empty();
        }
        String why = namedNotRun.get(architecture);
        if (why != null) {
            return Optional.of("architecture '" + architecture + "' cannot run on " + build + ": " + why);
        }
        return Optional.of("architecture '" + architecture + "' needs a newer llama.cpp build: " + build
                + " does not know it");
    }
}
