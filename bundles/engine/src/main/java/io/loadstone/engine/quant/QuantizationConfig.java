package io.loadstone.engine.quant;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.json.Json;
import io.loadstone.engine.json.JsonException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * How a checkpoint folder was quantized, as its quantizer recorded it. Read from, in this order
 * (the order AutoGPTQ and AutoAWQ look): AutoGPTQ/GPTQModel's {@code quantize_config.json},
 * AutoAWQ's {@code quant_config.json}, else the {@code quantization_config} object of
 * {@code config.json} (transformers' form, also written by exllamav2 for EXL2). Both spellings of
 * each field are understood ({@code group_size}/{@code q_group_size}, {@code bits}/{@code w_bit}).
 *
 * <p>Values the method does not use keep their documented defaults, so a loader can print them.
 * Whether the engine can run a configuration is decided by {@link QuantFormats#of}, not here.
 */
public final class QuantizationConfig {

    private static final String REDOWNLOAD = "Download the model's configuration files again with its weights.";

    private final String method;
    private final double bits;
    private final int groupSize;
    private final boolean descAct;
    private final boolean sym;
    private final boolean staticGroups;
    private final String checkpointFormat;
    private final String version;
    private final boolean zeroPoint;
    private final List<String> modulesToNotConvert;
    private final Path source;

    private QuantizationConfig(String method, double bits, int groupSize, boolean descAct, boolean sym, boolean staticGroups,
            String checkpointFormat, String version, boolean zeroPoint, List<String> modulesToNotConvert, Path source) {
        this.method = method;
        this.bits = bits;
        this.groupSize = groupSize;
        this.descAct = descAct;
        this.sym = sym;
        this.staticGroups = staticGroups;
        this.checkpointFormat = checkpointFormat;
        this.version = version;
        this.zeroPoint = zeroPoint;
        this.modulesToNotConvert = modulesToNotConvert;
        this.source = source;
    }

    /**
     * The folder's quantization config, or empty for an unquantized checkpoint (no
     * {@code quantize_config.json}, no {@code quant_config.json}, no {@code quantization_config}
     * in {@code config.json}).
     *
     * @throws ModelFileException one of those files is unreadable, not JSON, or holds a field of
     *                            the wrong type (the message names the file and the field)
     */
    public static Optional<QuantizationConfig> read(Path folder) throws ModelLoadException {
        Path gptq = folder.resolve("quantize_config.json");
        if (Files.isRegularFile(gptq)) {
            return Optional.of(parse(gptq, object(gptq), "gptq"));
        }
        Path awq = folder.resolve("quant_config.json");
        if (Files.isRegularFile(awq)) {
            return Optional.of(parse(awq, object(awq), "awq"));
        }
        Path config = folder.resolve("config.json");
        if (Files.isRegularFile(config)) {
            Object q = object(config).get("quantization_config");
            if (q instanceof Map<?, ?> m) {
                @SuppressWarnings("unchecked")
                Map<String, Object> fields = (Map<String, Object>) m;
                return Optional.of(parse(config, fields, null));
            }
            if (q != null && q != Json.NULL) {
                throw new ModelFileException(config, "quantization_config is " + Json.typeName(q) + ", not an object", REDOWNLOAD);
            }
        }
        return Optional.empty();
    }

    /**
     * @param file          where the fields came from (for messages)
     * @param defaultMethod the method a file name implies when the file does not say (older
     *                      AutoGPTQ and AutoAWQ files have no {@code quant_method}), or null
     */
    static QuantizationConfig parse(Path file, Map<String, Object> f, String defaultMethod) throws ModelFileException {
        String method = string(file, f, "quant_method", null);
        if (method == null) {
            method = string(file, f, "method", defaultMethod);
        }
        if (method == null) {
            throw new ModelFileException(file, "quantization_config has no quant_method (gptq, awq, exl2, …)", REDOWNLOAD);
        }
        method = method.toLowerCase(Locale.ROOT);
        boolean awq = method.equals("awq");
        Map<String, Object> meta = f.get("meta") instanceof Map<?, ?> m ? cast(m) : Map.of();
        double bits = number(file, f, f.containsKey("w_bit") ? "w_bit" : "bits", 0);
        String groupKey = f.containsKey("q_group_size") ? "q_group_size" : "group_size";
        double group = number(file, f, groupKey, 128);
        int groupSize = (int) group;
        if (group != groupSize || groupSize != -1 && groupSize < 1) {
            throw new ModelFileException(file, groupKey + " is " + group + "; it must be -1 (one group per column) or positive",
                    REDOWNLOAD);
        }
        boolean descAct = bool(file, f, "desc_act", false);
        boolean sym = bool(file, f, "sym", true);
        // GPTQModel moved static_groups (and other quantizer settings) under "meta".
        boolean staticGroups = f.containsKey("static_groups") ? bool(file, f, "static_groups", false)
                : bool(file, meta, "static_groups", false);
        String checkpointFormat = string(file, f, "checkpoint_format", null);
        if (checkpointFormat == null) {
            checkpointFormat = string(file, f, "format", null);
        }
        if (checkpointFormat == null) {
            checkpointFormat = bool(file, f, "is_marlin_format", false) ? "marlin" : method.equals("gptq") ? "gptq" : "";
        }
        String version = awq ? string(file, f, "version", "gemm").toLowerCase(Locale.ROOT) : string(file, f, "version", "");
        boolean zeroPoint = bool(file, f, "zero_point", true);
        List<String> notConvert = new ArrayList<>();
        Object m = f.get("modules_to_not_convert");
        if (m instanceof List<?> list) {
            for (Object o : list) {
                if (!(o instanceof String s)) {
                    throw new ModelFileException(file, "modules_to_not_convert holds " + Json.typeName(o) + ", not only module names",
                            REDOWNLOAD);
                }
                notConvert.add(s);
            }
        } else if (m != null && m != Json.NULL) {
            throw new ModelFileException(file, "modules_to_not_convert is " + Json.typeName(m) + ", not a list of module names",
                    REDOWNLOAD);
        }
        return new QuantizationConfig(method, bits, groupSize, descAct, sym, staticGroups, checkpointFormat.toLowerCase(Locale.ROOT),
                version, zeroPoint, List.copyOf(notConvert), file);
    }

    /** {@code quant_method}, lower case: gptq, awq, exl2, bitsandbytes, … */
    public String method() {
        return method;
    }

    /** Bits per weight ({@code bits}, {@code w_bit}); 0 when the file does not say. For EXL2 see {@link #averageBits()}. */
    public int bits() {
        return bits == Math.rint(bits) ? (int) bits : 0;
    }

    /** {@code bits} as written: EXL2 records the average bits per weight there (e.g. 4.65). */
    public double averageBits() {
        return bits;
    }

    /** Input rows per quantization group; -1 = one group for all rows (per output column). Default 128. */
    public int groupSize() {
        return groupSize;
    }

    /** GPTQ act-order: rows quantized in order of decreasing activation, groups given by {@code g_idx}. */
    public boolean descAct() {
        return descAct;
    }

    /** GPTQ symmetric quantization (zero at the middle of the range); default true, as in AutoGPTQ. */
    public boolean sym() {
        return sym;
    }

    /** GPTQ {@code static_groups}: group parameters computed before act-order reordering. */
    public boolean staticGroups() {
        return staticGroups;
    }

    /**
     * GPTQ tensor convention: {@code gptq} (stored zero = zero − 1, the default), {@code gptq_v2}
     * (true zero), {@code marlin}, …; empty for methods that have none.
     */
    public String checkpointFormat() {
        return checkpointFormat;
    }

    /** AWQ kernel layout, lower case: {@code gemm} (default) or {@code gemv}, …; for EXL2 its converter version. */
    public String version() {
        return version;
    }

    /** AWQ {@code zero_point}: asymmetric with stored zeros (default true). */
    public boolean zeroPoint() {
        return zeroPoint;
    }

    /** Module names (or name parts) kept unquantized in their stored dtype (AWQ); empty when none. */
    public List<String> modulesToNotConvert() {
        return modulesToNotConvert;
    }

    /** The file the fields were read from. */
    public Path source() {
        return source;
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(method).append(' ');
        s.append(bits() != 0 ? Integer.toString(bits()) : Double.toString(bits)).append("-bit, group ").append(groupSize);
        switch (method) {
            case "gptq" -> s.append(descAct ? ", act-order" : "").append(sym ? ", sym" : ", asym")
                    .append(staticGroups ? ", static groups" : "").append(", format ").append(checkpointFormat);
            case "awq" -> s.append(", ").append(version).append(zeroPoint ? ", zero point" : ", no zero point")
                    .append(modulesToNotConvert.isEmpty() ? "" : ", not converted " + modulesToNotConvert);
            default -> {
            }
        }
        return s.append(" (").append(source.getFileName()).append(')').toString();
    }

    private static Map<String, Object> object(Path file) throws ModelFileException {
        try {
            return Json.parseObject(Files.readString(file, StandardCharsets.UTF_8));
        } catch (java.nio.charset.MalformedInputException e) {
            throw new ModelFileException(file, "is not UTF-8 text", REDOWNLOAD, e);
        } catch (IOException e) {
            throw new ModelFileException(file, "cannot be read: " + e, "Check the file's permissions.", e);
        } catch (JsonException e) {
            throw new ModelFileException(file, "is not valid JSON: " + e.getMessage(), REDOWNLOAD, e);
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Map<?, ?> m) {
        return (Map<String, Object>) m;
    }

    private static String string(Path file, Map<String, Object> f, String key, String dflt) throws ModelFileException {
        Object v = f.get(key);
        if (v == null || v == Json.NULL) {
            return dflt;
        }
        if (v instanceof String s) {
            return s;
        }
        throw new ModelFileException(file, key + " is " + Json.typeName(v) + ", not a string", REDOWNLOAD);
    }

    private static double number(Path file, Map<String, Object> f, String key, double dflt) throws ModelFileException {
        Object v = f.get(key);
        if (v == null || v == Json.NULL) {
            return dflt;
        }
        if (v instanceof Number n && Double.isFinite(n.doubleValue()) && Math.abs(n.doubleValue()) < 1 << 30) {
            return n.doubleValue();
        }
        throw new ModelFileException(file, key + " is " + v + ", not a number", REDOWNLOAD);
    }

    private static boolean bool(Path file, Map<String, Object> f, String key, boolean dflt) throws ModelFileException {
        Object v = f.get(key);
        if (v == null || v == Json.NULL) {
            return dflt;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        throw new ModelFileException(file, key + " is " + v + ", not true or false", REDOWNLOAD);
    }
}
