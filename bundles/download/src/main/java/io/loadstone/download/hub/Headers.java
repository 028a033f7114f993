package io.loadstone.download.hub;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** Response headers with case-insensitive names. */
public record Headers(Map<String, List<String>> map) {

    public Headers {
        TreeMap<String, List<String>> m = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        map.forEach((k, v) -> {
            if (k != null) {
                m.merge(k.toLowerCase(Locale.ROOT), List.copyOf(v), (a, b) -> {
                    var all = new java.util.ArrayList<>(a);
                    all.addAll(b);
                    return List.copyOf(all);
                });
            }
        });
        map = m;
    }

    public static Headers of(Map<String, List<String>> map) {
        return new Headers(map);
    }

    public Optional<String> first(String name) {
        List<String> v = map.get(name);
        return v == null || v.isEmpty() ? Optional.empty() : Optional.ofNullable(v.get(0));
    }

    public List<String> all(String name) {
        return map.getOrDefault(name, List.of());
    }
}
