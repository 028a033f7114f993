package io.loadstone.launcher.flags;

import java.util.List;
import java.util.function.Function;

/**
 * One command-line flag of the runnable jar: its names, the placeholder of its value (none for a switch), one line
 * of help, and where it goes. A flag with a {@code pid} sets the Config Admin property {@code key} of that
 * configuration (only that key: everything else saved there stays); one without is for the launcher itself.
 *
 * @param names   the flag and its aliases, the first one shown in the usage
 * @param value   the value's placeholder ({@code DIR}, {@code N}), or {@code null} for a switch
 * @param help    one line for {@code --help}
 * @param pid     the configuration it sets, or {@code null} for a launcher flag
 * @param key     the property it sets in that configuration
 * @param convert the value as the configuration stores it; throws {@link IllegalArgumentException} with the
 *                reason for a bad value
 */
public record Flag(List<String> names, String value, String help, String pid, String key,
        Function<String, Object> convert) {

    public Flag {
        names = List.copyOf(names);
    }

    /** A flag that takes a value. */
    static Flag valued(String name, String value, String help, String pid, String key,
            Function<String, Object> convert, String... aliases) {
        return new Flag(all(name, aliases), value, help, pid, key, convert);
    }

    /** A switch that sets a configuration property to {@code true}. */
    static Flag toggle(String name, String help, String pid, String key) {
        return new Flag(List.of(name), null, help, pid, key, v -> Boolean.TRUE);
    }

    /** A switch the launcher itself acts on. */
    static Flag launcher(String name, String help, String... aliases) {
        return new Flag(all(name, aliases), null, help, null, null, v -> Boolean.TRUE);
    }

    public String name() {
        return names.get(0);
    }

    public boolean takesValue() {
        return value != null;
    }

    /** How the usage shows it: {@code --models DIR}. */
    String synopsis() {
        return takesValue() ? name() + " " + value : name();
    }

    private static List<String> all(String name, String... aliases) {
        String[] a = new String[aliases.length + 1];
        a[0] = name;
        System.arraycopy(aliases, 0, a, 1, aliases.length);
        return List.of(a);
    }
}
