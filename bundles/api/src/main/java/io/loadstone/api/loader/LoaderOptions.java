package io.loadstone.api.loader;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Validated option values for one load, with the specs' defaults filled in.
 * Values are Boolean, Long, Double or String according to {@link OptionType}.
 */
public final class LoaderOptions {

    /**
     * The most tokens of context a load takes when it is asked for the model's trained context
     * ({@code n_ctx} / {@code max_seq_len} 0, or unset): a 128K-context model should not reserve 128K
     * positions unasked (text-generation-webui caps at the same number, PR #6835). Since 1.3.
     */
    public static final int DEFAULT_CONTEXT_CAP = 8192;

    private final Map<String, Object> values;

    private LoaderOptions(Map<String, Object> values) {
        this.values = Collections.unmodifiableMap(values);
    }

    /**
     * Checks {@code given} against {@code specs}: unknown names, wrong types and values
     * out of range are refused with a message naming the option and the allowed range.
     * Numbers given as strings (from forms, YAML) are parsed.
     */
    public static LoaderOptions validate(List<OptionSpec> specs, Map<String, ?> given) throws ModelLoadException {
        Map<String, Object> out = new LinkedHashMap<>();
        Map<String, OptionSpec> byName = new LinkedHashMap<>();
        for (OptionSpec s : specs) {
            byName.put(s.name(), s);
            out.put(s.name(), s.defaultValue());
        }
        for (Map.Entry<String, ?> e : given.entrySet()) {
            OptionSpec spec = byName.get(e.getKey());
            if (spec == null) {
                throw invalid(e.getKey(), "Unknown option '" + e.getKey() + "'. This loader accepts: "
                        + String.join(", ", byName.keySet()), "Remove it or pick a loader that has it.");
            }
            if (e.getValue() == null) {
                continue;
            }
            out.put(spec.name(), coerce(spec, e.getValue()));
        }
        return new LoaderOptions(out);
    }

    /** Options exactly as given, without specs (for tests and loaders' own use). */
    public static LoaderOptions of(Map<String, ?> values) {
        return new LoaderOptions(new LinkedHashMap<>(values));
    }

    private static Object coerce(OptionSpec spec, Object v) throws ModelLoadException {
        String name = spec.name();
        try {
            return switch (spec.type()) {
                case BOOLEAN -> {
                    if (v instanceof Boolean b) {
                        yield b;
                    }
                    String s = v.toString().trim().toLowerCase(java.util.Locale.ROOT);
                    if (s.equals("true") || s.equals("false")) {
                        yield Boolean.parseBoolean(s);
                    }
                    throw invalid(name, "Option '" + name + "' must be true or false, not '" + v + "'.",
                            "Use true or false.");
                }
                case INTEGER -> {
                    double d = v instanceof Number n ? n.doubleValue() : Double.parseDouble(v.toString().trim());
                    if (d != Math.rint(d)) {
                        throw invalid(name, "Option '" + name + "' must be a whole number, not " + v + ".",
                                "Use a whole number" + range(spec) + ".");
                    }
                    checkRange(spec, d);
                    yield (long) d;
                }
                case NUMBER -> {
                    double d = v instanceof Number n ? n.doubleValue() : Double.parseDouble(v.toString().trim());
                    checkRange(spec, d);
                    yield d;
                }
                case STRING -> v.toString();
                case CHOICE -> {
                    String s = v.toString();
                    if (!spec.choices().contains(s)) {
                        throw invalid(name, "Option '" + name + "' must be one of " + spec.choices()
                                + ", not '" + s + "'.", "Pick one of " + spec.choices() + ".");
                    }
                    yield s;
                }
            };
        } catch (NumberFormatException e) {
            throw invalid(name, "Option '" + name + "' must be a number, not '" + v + "'.",
                    "Use a number" + range(spec) + ".");
        }
    }

    /** A refusal that names the option, so a caller can point at the field ({@link ModelLoadException#param()}). */
    private static ModelLoadException invalid(String option, String message, String fix) {
        return new ModelLoadException(ModelLoadException.Reason.INVALID_OPTION, option, message, fix, null);
    }

    private static void checkRange(OptionSpec spec, double d) throws ModelLoadException {
        if (Double.isNaN(d) || (spec.min() != null && d < spec.min()) || (spec.max() != null && d > spec.max())) {
            throw invalid(spec.name(), "Option '" + spec.name() + "' = " + fmt(d) + " is out of range"
                    + range(spec) + ".", "Choose a value" + range(spec) + ".");
        }
    }

    private static String range(OptionSpec spec) {
        if (spec.min() == null && spec.max() == null) {
            return "";
        }
        return " between " + fmt(spec.min()) + " and " + fmt(spec.max());
    }

    private static String fmt(Double d) {
        if (d == null) {
            return "any";
        }
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString(d.longValue()) : d.toString();
    }

    public Map<String, Object> asMap() {
        return values;
    }

    public boolean has(String name) {
        return values.containsKey(name);
    }

    public boolean bool(String name) {
        Object v = values.get(name);
        return v instanceof Boolean b ? b : v != null && Boolean.parseBoolean(v.toString());
    }

    public long integer(String name) {
        Object v = values.get(name);
        return v instanceof Number n ? n.longValue() : v == null ? 0 : Long.parseLong(v.toString());
    }

    public double number(String name) {
        Object v = values.get(name);
        return v instanceof Number n ? n.doubleValue() : v == null ? 0 : Double.parseDouble(v.toString());
    }

    public String text(String name) {
        Object v = values.get(name);
        return v == null ? "" : v.toString();
    }

    @Override
    public String toString() {
        return values.toString();
    }
}
