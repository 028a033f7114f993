package io.loadstone.llamacpp.binding;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.b4916.B4916Binding;

/** The bindings this bundle ships, by the build name a fragment announces. */
public final class NativeBindings {

    private static final List<NativeBinding> ALL = List.of(new B4916Binding());

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
