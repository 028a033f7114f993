package io.loadstone.engine.lora;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.json.Json;
import io.loadstone.engine.json.JsonException;
import io.loadstone.engine.pytorch.PytorchFile;
import io.loadstone.engine.safetensors.SafetensorsFile;
import io.loadstone.engine.safetensors.TensorInfo;
import io.loadstone.engine.tensor.StoredMatrix;
import io.loadstone.engine.tensor.Tensors;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A PEFT LoRA adapter folder read into fp32 factors: {@code adapter_config.json} and
 * {@code adapter_model.safetensors} (else {@code adapter_model.bin}, read without running its
 * pickle), checked against the base model's linear layers.
 *
 * <p>Semantics follow PEFT's {@code LoraModel}: a module is adapted when its name matches
 * {@code target_modules} (a list: the name or its last components; a string: a regular
 * expression over the whole name; {@code all-linear}); its rank and alpha come from
 * {@code rank_pattern}/{@code alpha_pattern} when a pattern matches, else {@code r} and
 * {@code lora_alpha}; its scaling is {@code alpha/r}, or {@code alpha/√r} with
 * {@code use_rslora}. {@code fan_in_fan_out} is ignored for Linear layers, as PEFT does. Features
 * the engine does not implement (DoRA, trained biases, {@code modules_to_save}, trainable token
 * indices, layer replication, embedding or lm_head adapters) are refused rather than silently
 * dropped, since the output would differ from what the adapter was trained to give.
 */
public final class PeftAdapter {

    private static final System.Logger LOG = System.getLogger(PeftAdapter.class.getName());

    public static final String CONFIG = "adapter_config.json";
    public static final String SAFETENSORS = "adapter_model.safetensors";
    public static final String BIN = "adapter_model.bin";

    private static final String PREFIX = "base_model.model.";
    private static final Pattern KEY = Pattern.compile("(.+)\\.lora_([AB])\\.weight");

    /**
     * One adapted linear layer.
     *
     * @param module  the base model's module name ({@code model.layers.0.self_attn.q_proj})
     * @param a       {@code lora_A}, {@code [rank][in]} row-major
     * @param b       {@code lora_B}, {@code [out][rank]} row-major
     * @param scaling PEFT's {@code lora_alpha / r} (or {@code / √r})
     */
    public record Module(String module, int rank, float[] a, float[] b, double scaling) {
    }

    private final Path folder;
    private final Map<String, Module> modules;

    private PeftAdapter(Path folder, Map<String, Module> modules) {
        this.folder = folder;
        this.modules = modules;
    }

    public Path folder() {
        return folder;
    }

    /** Adapted modules by name, in file order. */
    public Map<String, Module> modules() {
        return modules;
    }

    /**
     * Reads and checks {@code folder}.
     *
     * @param shapeOf the base model's {@code {out, in}} of a linear module, or {@code null} when
     *                the model has no such module
     * @param model   the base model in words, for error messages
     */
    public static PeftAdapter read(Path folder, Function<String, int[]> shapeOf, String model) throws ModelLoadException {
        if (!Files.isDirectory(folder)) {
            throw new ModelFileException(folder, Files.exists(folder) ? "is not a folder" : "does not exist",
                    "Give a PEFT LoRA folder (adapter_config.json and adapter_model.safetensors).");
        }
        Path configFile = folder.resolve(CONFIG);
        if (!Files.isRegularFile(configFile)) {
            throw new ModelFileException(folder, "has no " + CONFIG + "; it is not a PEFT LoRA adapter",
                    "Download the adapter's " + CONFIG + " with its weights.");
        }
        Config cfg = Config.read(configFile);
        Path weights = folder.resolve(SAFETENSORS);
        if (!Files.isRegularFile(weights)) {
            weights = folder.resolve(BIN);
            if (!Files.isRegularFile(weights)) {
                throw new ModelFileException(folder, "has neither " + SAFETENSORS + " nor " + BIN,
                        "Download the adapter's weight file into this folder.");
            }
        }
        String fix = "This adapter was trained for a different base model; pick a LoRA made for " + model + ".";
        Map<String, TensorInfo[]> pairs = new LinkedHashMap<>();
        Map<String, Module> out = new LinkedHashMap<>();
        try (Arena arena = Arena.ofConfined()) {
            Map<String, TensorInfo> tensors = weights.getFileName().toString().equals(SAFETENSORS)
                    ? SafetensorsFile.open(weights, arena).tensors()
                    : PytorchFile.open(weights, arena);
            for (TensorInfo t : tensors.values()) {
                String key = t.name().startsWith(PREFIX) ? t.name().substring(PREFIX.length()) : t.name();
                Matcher m = KEY.matcher(key);
                if (!m.matches()) {
                    throw new ModelFileException(weights, "holds tensor '" + t.name() + "', which is not a LoRA A/B matrix of a "
                            + "linear layer (DoRA magnitudes, embedding or bias adapters are not supported)",
                            "Use a plain LoRA adapter (use_dora=false, bias=none, linear target modules only).");
                }
                // Adapters trained on the bare LlamaModel (no LM head) name its layers without "model.".
                String module = m.group(1).startsWith("layers.") ? "model." + m.group(1) : m.group(1);
                if (!cfg.targets(module)) {
                    LOG.log(Level.WARNING, "{0}: tensor {1} is for module {2}, which target_modules does not name; ignored, as PEFT does",
                            weights, t.name(), module);
                    continue;
                }
                int[] shape = shapeOf.apply(module);
                if (shape == null && (module.equals("lm_head") || module.endsWith(".lm_head"))) {
                    throw new ModelFileException(weights, "tensor '" + t.name() + "' adapts lm_head; the Java engine applies "
                            + "LoRA to the decoder layers' projections only",
                            "Use an adapter trained without lm_head in target_modules, or merge it into the model.");
                }
                if (shape == null) {
                    throw new ModelFileException(weights, "tensor '" + t.name() + "' adapts module '" + module
                            + "', which " + model + " has no linear layer of that name", fix);
                }
                if (t.rank() != 2 || !StoredMatrix.supports(t.dtype())) {
                    throw new ModelFileException(weights, "tensor '" + t.name() + "' is " + t.dtype() + t.shapeString()
                            + "; LoRA factors must be 2-D F32, F16 or BF16", "Save the adapter again with PEFT.");
                }
                pairs.computeIfAbsent(module, k -> new TensorInfo[2])[m.group(2).equals("A") ? 0 : 1] = t;
            }
            if (pairs.isEmpty()) {
                throw new ModelFileException(weights, "holds no LoRA weights for the modules target_modules names ("
                        + cfg.targetDescription + ")", "Download the adapter again.");
            }
            for (Map.Entry<String, TensorInfo[]> e : pairs.entrySet()) {
                String module = e.getKey();
                TensorInfo a = e.getValue()[0];
                TensorInfo b = e.getValue()[1];
                if (a == null || b == null) {
                    throw new ModelFileException(weights, "has lora_" + (a == null ? "B" : "A") + " but no lora_" + (a == null ? "A" : "B")
                            + " for module '" + module + "'", "Download the adapter again (the file is incomplete).");
                }
                int[] shape = shapeOf.apply(module);
                int rank = cfg.rank(module);
                long[] wantA = {rank, shape[1]};
                long[] wantB = {shape[0], rank};
                for (Object[] check : new Object[][] {{a, wantA}, {b, wantB}}) {
                    TensorInfo t = (TensorInfo) check[0];
                    long[] want = (long[]) check[1];
                    if (!Arrays.equals(t.shape(), want)) {
                        boolean rankOff = t.dim(t == a ? 0 : 1) != rank;
                        throw new ModelFileException(weights, "tensor '" + t.name() + "' has shape " + t.shapeString() + " but "
                                + (rankOff ? CONFIG + " gives rank " + rank + " for " + module
                                        : model + "'s " + module + " is " + shape[0] + " x " + shape[1])
                                + ", so it needs " + Arrays.toString(want),
                                rankOff ? "Download the adapter's config and weights together." : fix);
                    }
                }
                out.put(module, new Module(module, rank, Tensors.toFloats(a), Tensors.toFloats(b), cfg.scaling(module, rank)));
            }
        }
        return new PeftAdapter(folder, java.util.Collections.unmodifiableMap(out));
    }

    /** The parts of {@code adapter_config.json} that decide the computation. */
    private static final class Config {
        private final Path file;
        private final int r;
        private final double alpha;
        private final boolean rslora;
        private final Map<String, Object> rankPattern;
        private final Map<String, Object> alphaPattern;
        private final List<String> targetList;
        private final Pattern targetRegex;
        private final boolean allLinear;
        final String targetDescription;

        private Config(Path file, Map<String, Object> j) throws ModelFileException {
            this.file = file;
            Object type = j.get("peft_type");
            if (type instanceof String s && !s.equals("LORA")) {
                throw refuse("is a " + s + " adapter; only LoRA is supported", "Use a LoRA adapter (peft_type LORA).");
            }
            if (Boolean.TRUE.equals(j.get("use_dora"))) {
                throw refuse("has use_dora=true; DoRA adapters are not supported by the Java engine",
                        "Use a plain LoRA adapter, or a loader that supports DoRA.");
            }
            Object bias = j.getOrDefault("bias", "none");
            if (!"none".equals(bias) || Boolean.TRUE.equals(j.get("lora_bias"))) {
                throw refuse("trains biases (bias=" + bias + (Boolean.TRUE.equals(j.get("lora_bias")) ? ", lora_bias=true" : "")
                        + "); only bias=none is supported", "Use an adapter trained with bias=\"none\".");
            }
            Object save = j.get("modules_to_save");
            if (save instanceof List<?> l && !l.isEmpty() || save instanceof String) {
                throw refuse("has modules_to_save=" + save + ": it replaces whole modules of the base model, which the "
                        + "Java engine does not do", "Use an adapter without modules_to_save (or merge it into the model).");
            }
            for (String unsupported : List.of("trainable_token_indices", "layer_replication", "target_parameters")) {
                Object v = j.get(unsupported);
                if (v != null && v != Json.NULL && !(v instanceof List<?> l && l.isEmpty()) && !(v instanceof Map<?, ?> m && m.isEmpty())) {
                    throw refuse("sets " + unsupported + "=" + v + ", which the Java engine does not support",
                            "Use a plain LoRA adapter, or merge this one into the model.");
                }
            }
            if (!(j.get("r") instanceof Number rn) || rn.doubleValue() < 1 || rn.doubleValue() != Math.rint(rn.doubleValue())) {
                throw refuse("has r=" + j.get("r") + "; it must be a positive integer", "Download the adapter's config again.");
            }
            this.r = rn.intValue();
            Object a = j.getOrDefault("lora_alpha", 8L);
            if (!(a instanceof Number an)) {
                throw refuse("has lora_alpha=" + a + "; it must be a number", "Download the adapter's config again.");
            }
            this.alpha = an.doubleValue();
            this.rslora = Boolean.TRUE.equals(j.get("use_rslora"));
            this.rankPattern = patterns(j, "rank_pattern");
            this.alphaPattern = patterns(j, "alpha_pattern");
            if (Boolean.TRUE.equals(j.get("fan_in_fan_out"))) {
                LOG.log(Level.WARNING, "{0}: fan_in_fan_out=true is ignored for Linear layers, as PEFT does", file);
            }
            Object t = j.get("target_modules");
            if (t instanceof String s) {
                this.allLinear = s.equals("all-linear");
                try {
                    this.targetRegex = allLinear ? null : Pattern.compile(s);
                } catch (PatternSyntaxException e) {
                    throw refuse("has target_modules '" + s + "', which is not a regular expression Java reads: " + e.getDescription(),
                            "List the module names instead.");
                }
                this.targetList = null;
                this.targetDescription = s;
            } else if (t instanceof List<?> l) {
                List<String> names = new ArrayList<>();
                for (Object o : l) {
                    if (!(o instanceof String s)) {
                        throw refuse("has a target_modules entry " + o + " that is not a name", "Download the adapter's config again.");
                    }
                    names.add(s);
                }
                this.targetList = List.copyOf(names);
                this.targetRegex = null;
                this.allLinear = false;
                this.targetDescription = String.join(", ", names);
            } else {
                // None: PEFT fills in the architecture's default; the file's tensors decide.
                this.targetList = null;
                this.targetRegex = null;
                this.allLinear = true;
                this.targetDescription = "not set";
            }
        }

        static Config read(Path file) throws ModelFileException {
            try {
                return new Config(file, Json.parseObject(Files.readString(file, StandardCharsets.UTF_8)));
            } catch (JsonException e) {
                throw new ModelFileException(file, "is not valid JSON: " + e.getMessage(), "Download the file again.", e);
            } catch (IOException e) {
                throw new ModelFileException(file, "cannot be read: " + e, "Check the file.", e);
            }
        }

        private Map<String, Object> patterns(Map<String, Object> j, String key) throws ModelFileException {
            Object v = j.get(key);
            if (v == null || v == Json.NULL) {
                return Map.of();
            }
            if (!(v instanceof Map<?, ?> m)) {
                throw refuse("has " + key + "=" + v + "; it must be an object", "Download the adapter's config again.");
            }
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!(e.getValue() instanceof Number)) {
                    throw refuse("has " + key + " entry '" + e.getKey() + "' = " + e.getValue() + ", not a number",
                            "Download the adapter's config again.");
                }
                out.put((String) e.getKey(), e.getValue());
            }
            return out;
        }

        private ModelFileException refuse(String problem, String fix) {
            return new ModelFileException(file, problem, fix);
        }

        /** PEFT's check_target_module_exists for one module name. */
        boolean targets(String module) {
            if (allLinear) {
                return true;
            }
            if (targetRegex != null) {
                return targetRegex.matcher(module).matches();
            }
            for (String t : targetList) {
                if (module.equals(t) || module.endsWith("." + t)) {
                    return true;
                }
            }
            return false;
        }

        int rank(String module) {
            Object v = match(rankPattern, module);
            return v == null ? r : ((Number) v).intValue();
        }

        double scaling(String module, int rank) {
            Object v = match(alphaPattern, module);
            double a = v == null ? alpha : ((Number) v).doubleValue();
            return rslora ? a / Math.sqrt(rank) : a / rank;
        }

        /** PEFT's get_pattern_key: the first pattern that matches the end of the module name. */
        private static Object match(Map<String, Object> patterns, String module) {
            for (Map.Entry<String, Object> e : patterns.entrySet()) {
                if (module.equals(e.getKey())) {
                    return e.getValue();
                }
            }
            for (Map.Entry<String, Object> e : patterns.entrySet()) {
                try {
                    if (Pattern.compile("(?:.*\\.)?(?:" + e.getKey() + ")").matcher(module).matches()) {
                        return e.getValue();
                    }
                } catch (PatternSyntaxException ignored) {
                    // A key that is no regex can only match exactly (checked above).
                }
            }
            return null;
        }
    }
}
