package io.loadstone.tokenizer.provision;

import java.util.List;

import org.osgi.framework.Bundle;

/**
 * A fragment attached to this bundle that carries the tokenizers library.
 *
 * @param bundle    the fragment
 * @param libraries entries of the library files inside the fragment, in load order
 *                  ({@code Loadstone-Native-Library}, comma-separated)
 * @param build     the native build ({@code Loadstone-Native-Build}), checked against the JNI classes
 * @param platform  the platform it was built for ({@code Loadstone-Native-Platform}), may be empty
 */
record NativeFragment(Bundle bundle, List<String> libraries, String build, String platform) {

    static final String LIBRARY_HEADER = "Loadstone-Native-Library";
    static final String BUILD_HEADER = "Loadstone-Native-Build";
    static final String PLATFORM_HEADER = "Loadstone-Native-Platform";

    String describe() {
        return bundle.getSymbolicName() + " " + bundle.getVersion() + " (" + build
                + (platform.isEmpty() ? "" : ", " + platform) + ")";
    }
}
