package io.loadstone.llamacpp.provision;

import org.osgi.framework.Bundle;

/**
 * A fragment attached to this bundle that carries a llama.cpp library.
 *
 * @param bundle   the fragment
 * @param library  entry of the library inside the fragment ({@code Loadstone-Native-Library})
 * @param build    the llama.cpp build ({@code Loadstone-Native-Build}), selects the binding
 * @param platform the platform it was built for ({@code Loadstone-Native-Platform}), may be empty
 */
record NativeFragment(Bundle bundle, String library, String build, String platform) {

    static final String LIBRARY_HEADER = "Loadstone-Native-Library";
    static final String BUILD_HEADER = "Loadstone-Native-Build";
    static final String PLATFORM_HEADER = "Loadstone-Native-Platform";

    String describe() {
        return bundle.getSymbolicName() + " " + bundle.getVersion() + " (" + build
                + (platform.isEmpty() ? "" : ", " + platform) + ")";
    }
}
