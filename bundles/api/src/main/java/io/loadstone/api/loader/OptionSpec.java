package io.loadstone.api.loader;

import java.util.List;
import java.util.Objects;

/**
 * One loader option, described well enough for a UI to render it and for the core to
 * validate a value before the loader sees it.
 *
 * @param name         the text-generation-webui name, e.g. {@code "n_ctx"}
 * @param type         value type
 * @param defaultValue default (Boolean, Long, Double or String by type); never null
 * @param min          inclusive lower bound for numbers, or null
 * @param max          inclusive upper bound for numbers, or null
 * @param choices      allowed values for {@link OptionType#CHOICE}, else empty
 * @param help         one or two sentences: what it does, when to change it
 * @param applies      null when the option works on this platform; otherwise why it has
 *                     no effect here (e.g. "this llama.cpp build has no GPU backend")
 */
public record OptionSpec(String name, OptionType type, Object defaultValue, Double min, Double max,
        List<String> choices, String help, String applies) {

    public OptionSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(defaultValue, "defaultValue");
        choices = choices == null ? List.of() : List.copyOf(choices);
        help = help == null ? "" : help;
    }

    public static OptionSpec bool(String name, boolean dflt, String help) {
        return new OptionSpec(name, OptionType.BOOLEAN, dflt, null, null, List.of(), help, null);
    }

    public static OptionSpec integer(String name, long dflt, long min, long max, String help) {
        return new OptionSpec(name, OptionType.INTEGER, dflt, (double) min, (double) max, List.of(), help, null);
    }

    public static OptionSpec number(String name, double dflt, double min, double max, String help) {
        return new OptionSpec(name, OptionType.NUMBER, dflt, min, max, List.of(), help, null);
    }

    public static OptionSpec text(String name, String dflt, String help) {
        return new OptionSpec(name, OptionType.STRING, dflt, null, null, List.of(), help, null);
    }

    public static OptionSpec choice(String name, String dflt, List<String> choices, String help) {
        return new OptionSpec(name, OptionType.CHOICE, dflt, null, null, choices, help, null);
    }

    /** This spec marked as having no effect on this platform, with the reason. */
    public OptionSpec notApplicable(String why) {
        return new OptionSpec(name, type, defaultValue, min, max, choices, help, why);
    }

    /** The same option with another default (e.g. n_ctx from the model's metadata). */
    public OptionSpec withDefault(Object value) {
        return new OptionSpec(name, type, value, min, max, choices, help, applies);
    }
}
