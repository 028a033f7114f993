package io.loadstone.natives;

import java.util.Locale;

/** The platform names native fragments use: {@code <os>-<arch>}, e.g. {@code linux-x86_64}. */
public final class Platform {

    private Platform() {
    }

    /** This JVM's platform. */
    public static String current() {
        return of(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
    }

    /** The platform name for an {@code os.name} / {@code os.arch} pair. */
    public static String of(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT);
        String arch = osArch.toLowerCase(Locale.ROOT);
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

    /** The symbolic name of the fragment for this platform, given the fragments' common prefix. */
    public static String fragmentName(String prefix) {
        return prefix + current();
    }
}
