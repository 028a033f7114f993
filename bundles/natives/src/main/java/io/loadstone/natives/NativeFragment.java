package io.loadstone.natives;

import java.util.List;

import org.osgi.framework.Bundle;

/**
 * A fragment attached to a host bundle that carries a native library.
 *
 * @param bundle    the fragment
 * @param libraries entries of the library files inside the fragment, in load order
 * @param build     the native build, e.g. {@code llama.cpp-b4916}: selects binding code
 * @param platform  the platform it was built for, e.g. {@code linux-x86_64}; may be empty
 */
public record NativeFragment(Bundle bundle, List<String> libraries, String build, String platform) {

    public static final String LIBRARY_HEADER = "Loadstone-Native-Library";
    public static final String BUILD_HEADER = "Loadstone-Native-Build";
    public static final String PLATFORM_HEADER = "Loadstone-Native-Platform";

    public NativeFragment {
        libraries = List.copyOf(libraries);
    }

    /** The first (for single-library fragments: the only) library entry. */
    public String library() {
        return libraries.get(0);
    }

    /** For messages: "io.loadstone.llamacpp-linux-x86_64 0.1.0 (llama.cpp-b4916, linux-x86_64)". */
    public String describe() {
        return bundle.getSymbolicName() + " " + bundle.getVersion() + " (" + build
                + (platform.isEmpty() ? "" : ", " + platform) + ")";
    }
}
