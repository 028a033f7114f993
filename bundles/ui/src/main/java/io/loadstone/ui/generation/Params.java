package io.loadstone.ui.generation;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;

import io.loadstone.ui.http.ApiException;

/**
 * Typed reads from a JSON request with a 400 that names the parameter, the expected type
 * and the allowed range. {@code null} counts as absent, as the OpenAI API treats it.
 */
public final class Params {

    private final JsonObject body;

    public Params(JsonObject body) {
        this.body = body;
    }

    public JsonObject body() {
        return body;
    }

    public boolean has(String name) {
        JsonElement e = body.get(name);
        return e != null && !e.isJsonNull();
    }

    public JsonElement raw(String name) {
        JsonElement e = body.get(name);
        return e == null || e.isJsonNull() ? null : e;
    }

    private JsonPrimitive primitive(String name, String what) throws ApiException {
        JsonElement e = raw(name);
        if (e == null) {
            return null;
        }
        if (!e.isJsonPrimitive()) {
            throw wrongType(name, what, e);
        }
        return e.getAsJsonPrimitive();
    }

    private static ApiException wrongType(String name, String what, JsonElement e) {
        String kind = e.isJsonArray() ? "an array" : e.isJsonObject() ? "an object" : e.getAsJsonPrimitive()
                .isBoolean() ? "a boolean" : e.getAsJsonPrimitive().isNumber() ? "a number" : "a string";
        return ApiException.badRequest(name, "invalid_type", "'" + name + "' must be " + what + ", not " + kind + ".");
    }

    public String string(String name, String dflt) throws ApiException {
        JsonPrimitive p = primitive(name, "a string");
        if (p == null) {
            return dflt;
        }
        if (!p.isString()) {
            throw wrongType(name, "a string", p);
        }
        return p.getAsString();
    }

    public Boolean bool(String name) throws ApiException {
        JsonPrimitive p = primitive(name, "true or false");
        if (p == null) {
            return null;
        }
        if (!p.isBoolean()) {
            throw wrongType(name, "true or false", p);
        }
        return p.getAsBoolean();
    }

    public boolean bool(String name, boolean dflt) throws ApiException {
        Boolean b = bool(name);
        return b == null ? dflt : b;
    }

    public Double number(String name, double min, double max) throws ApiException {
        JsonPrimitive p = primitive(name, "a number");
        if (p == null) {
            return null;
        }
        if (!p.isNumber()) {
            throw wrongType(name, "a number", p);
        }
        double d = p.getAsDouble();
        if (Double.isNaN(d) || d < min || d > max) {
            throw ApiException.badRequest(name, "out_of_range", "'" + name + "' = " + p.getAsString()
                    + " is out of range: it must be between " + fmt(min) + " and " + fmt(max) + ".");
        }
        return d;
    }

    public Long integer(String name, long min, long max) throws ApiException {
        JsonPrimitive p = primitive(name, "a whole number");
        if (p == null) {
            return null;
        }
        if (!p.isNumber()) {
            throw wrongType(name, "a whole number", p);
        }
        double d = p.getAsDouble();
        if (d != Math.rint(d)) {
            throw ApiException.badRequest(name, "invalid_type", "'" + name + "' must be a whole number, not "
                    + p.getAsString() + ".");
        }
        if (d < min || d > max) {
            throw ApiException.badRequest(name, "out_of_range", "'" + name + "' = " + p.getAsString()
                    + " is out of range: it must be between " + min + " and " + max + ".");
        }
        return p.getAsLong();
    }

    /** {@code stop}: a string or an array of strings. */
    public List<String> stop(String name) throws ApiException {
        JsonElement e = raw(name);
        List<String> out = new ArrayList<>();
        if (e == null) {
            return out;
        }
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
            if (!e.getAsString().isEmpty()) {
                out.add(e.getAsString());
            }
            return out;
        }
        if (!e.isJsonArray()) {
            throw wrongType(name, "a string or an array of strings", e);
        }
        for (JsonElement x : e.getAsJsonArray()) {
            if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isString()) {
                throw ApiException.badRequest(name, "invalid_type", "'" + name + "' must hold only strings.");
            }
            if (!x.getAsString().isEmpty()) {
                out.add(x.getAsString());
            }
        }
        if (out.size() > 16) {
            throw ApiException.badRequest(name, "out_of_range", "'" + name + "' may hold at most 16 strings.");
        }
        return out;
    }

    /** Reads every generation parameter this request sets (by {@link SamplerSpec}) into {@code out}. */
    public void samplers(Map<String, Object> out) throws ApiException {
        for (SamplerSpec s : SamplerSpec.ALL) {
            switch (s.type()) {
                case "boolean" -> {
                    Boolean b = bool(s.name());
                    if (b != null) {
                        out.put(s.name(), b);
                    }
                }
                case "integer" -> {
                    Long l = integer(s.name(), (long) s.min(), (long) s.max());
                    if (l != null) {
                        out.put(s.name(), l);
                    }
                }
                default -> {
                    Double d = number(s.name(), s.min(), s.max());
                    if (d != null) {
                        usable(s.name(), d);
                        out.put(s.name(), d);
                    }
                }
            }
        }
    }

    /** The smallest temperature above 0 the samplers take: logits / 1e-320 overflow to infinity. */
    static final double MIN_TEMPERATURE = 1e-4;

    /**
     * Values inside a parameter's range that no sampler can use: a divisor of 0, or a temperature
     * so small that dividing the logits by it overflows. Refused here with the parameter named,
     * instead of failing in the sampler as a server error.
     */
    static void usable(String name, double d) throws ApiException {
        if (name.equals(io.loadstone.api.loader.Sampling.TEMPERATURE) && d > 0 && d < MIN_TEMPERATURE) {
            throw ApiException.badRequest(name, "out_of_range", "'" + name + "' = " + d + " is too small: use 0 "
                    + "for greedy decoding or at least " + MIN_TEMPERATURE + ".");
        }
        if ((name.equals(io.loadstone.api.loader.Sampling.REPETITION_PENALTY)
                || name.equals(io.loadstone.api.loader.Sampling.TYPICAL_P)) && d == 0) {
            throw ApiException.badRequest(name, "out_of_range", "'" + name + "' = 0 cannot work: it must be above 0 "
                    + "(1 = off).");
        }
    }

    static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }
}
