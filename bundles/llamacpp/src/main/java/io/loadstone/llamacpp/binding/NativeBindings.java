package io.loadstone.llamacpp.binding;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.b4916.B4916Binding;
import io.loadstone.llamacpp.v0_5_0.V050Binding;

/** The bindings this bundle ships, by the build name a fragment announces. */
public final class NativeBindings {

    /** Oldest first: {@link #preferred} takes the last one present. */
    private static final List<NativeBinding> ALL = List.of(new B4916Binding(), new V050Binding());

    private NativeBindings() {
    }

    public static Set<String> builds() {
        Set<String> out = new TreeSet<>();
        ALL.forEach(b -> out.add(b.build()));
        return out;
    }

    /** The architecture table of {@code build}, or empty for a build this bundle has no binding for. */
    public static Optional<ArchitectureTable> architectures(String build) {
        return ALL.stream().filter(b -> b.build().equals(build)).findFirst().map(NativeBinding::architectures);
    }

    /**
     * Where an architecture {@code build} cannot run does run: the newest other build whose table
     * runs it, with the fragment to install ({@code prefix + platform}); empty when none does.
     */
    public static Optional<String> runnableElsewhere(String architecture, String build, String platform) {
        for (int i = ALL.size() - 1; i >= 0; i--) {
            NativeBinding b = ALL.get(i);
            if (!b.build().equals(build) && b.architectures().problem(architecture).isEmpty()) {
                return Optional.of("install the " + b.build() + " native fragment " + b.fragmentPrefix() + platform
                        + ", which runs it");
            }
        }
        return Optional.empty();
    }

    /**
     * Which of {@code present} to use: {@code requested} when it is one of them, else the newest
     * one this bundle has a binding for; empty when none has a binding.
     */
    public static Optional<String> preferred(Set<String> present, String requested) {
        if (requested != null && !requested.isBlank() && present.contains(requested.trim())) {
            return Optional.of(requested.trim());
        }
        for (int i = ALL.size() - 1; i >= 0; i--) {
            if (present.contains(ALL.get(i).build())) {
                return Optional.of(ALL.get(i).build());
            }
        }
        return Optional.empty();
    }

    public static LlamaLibrary load(Path library, String build) throws LlamaException {
        for (NativeBinding b : ALL) {
            if (b.build().equals(build)) {
                return b.load(library);
            }
        }
        throw new LlamaException("No binding for native build '" + build + "' (library " + library
                + "). This bundle supports " + builds() + ": install a native fragment of one of those builds, "
                + "or a newer io.loadstone.llamacpp that knows '" + build + "'.");
    }
}
