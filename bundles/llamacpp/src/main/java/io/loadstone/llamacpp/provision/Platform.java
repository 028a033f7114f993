package io.loadstone.llamacpp.provision;

import java.util.Locale;

/** The platform names the native fragments use, e.g. {@code linux-x86_64}. */
final class Platform {

    private Platform() {
    }

    static String current() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.startsWith("linux") ? "linux"
                : os.startsWith("mac") || os.startsWith("darwin") ? "macos"
                        : os.startsWith("windows") ? "windows" : os.replace(' ', '_');
        String a = switch (arch) {
            case "amd64", "x86_64", "x86-64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch;
        };
        return o + "-" + a;
    }

    /** The bundle symbolic name of the fragment for this platform. */
    static String fragmentName() {
        return "io.loadstone.llamacpp-" + current();
    }
}
