package io.loadstone.core.shell;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.Sampling;
import io.loadstone.api.runtime.ByteSize;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelEntry;
import io.loadstone.api.runtime.ModelManager;

/**
 * Gogo shell commands ({@code loadstone:models}, {@code loadstone:load}, ...). Gogo finds
 * them through the osgi.command properties and calls the public methods by name; errors
 * come back as text, never as a stack trace, because a shell user can act on text.
 */
@Component(service = ShellCommands.class, property = {
        "osgi.command.scope=loadstone",
        "osgi.command.function=models", "osgi.command.function=loaders", "osgi.command.function=load",
        "osgi.command.function=unload", "osgi.command.function=loaded", "osgi.command.function=generate",
        "osgi.command.function=refresh", "osgi.command.function=loras", "osgi.command.function=lora" })
public final class ShellCommands {

    private final ModelManager manager;

    @org.osgi.service.component.annotations.Activate
    public ShellCommands(@Reference ModelManager manager) {
        this.manager = manager;
    }

    /** Lists the models folder with the loaders that accept each model. */
    public String models() {
        List<ModelEntry> models = manager.models();
        StringBuilder sb = new StringBuilder("Models in ").append(manager.modelsDir()).append(":\n");
        if (models.isEmpty()) {
            sb.append("  (none: put a .gguf file or a model folder there)\n");
        }
        for (ModelEntry m : models) {
            boolean isLoaded = manager.loaded(m.name()).isPresent();
            sb.append(isLoaded ? "* " : "  ").append(m.name()).append("  ").append(ByteSize.format(m.sizeBytes())).append('\n');
            if (m.candidates().isEmpty()) {
                sb.append("      ").append(m.hint()).append('\n');
            }
            for (ModelEntry.Candidate c : m.candidates()) {
                sb.append("      ").append(c.loaderId()).append(" (").append(c.detection().score()).append("): ")
                        .append(c.detection().reason()).append('\n');
            }
        }
        return sb.toString();
    }

    /** Lists installed loaders with their bundles and options. */
    public String loaders() {
        List<LoaderInfo> loaders = manager.loaders();
        if (loaders.isEmpty()) {
            return "No loaders installed. Drop a loader bundle into the plugins folder.\n";
        }
        StringBuilder sb = new StringBuilder();
        for (LoaderInfo l : loaders) {
            sb.append(l.id()).append("  [").append(l.bundle()).append(' ').append(l.bundleVersion()).append("]  LoRA ")
                    .append(l.capabilities().lora().name().toLowerCase(Locale.ROOT)).append(", logits ")
                    .append(l.capabilities().logits() ? "yes" : "no").append('\n');
            l.options().forEach(o -> sb.append("    ").append(o.name()).append(" = ").append(o.defaultValue())
                    .append(o.applies() == null ? "" : "  (no effect here: " + o.applies() + ")").append('\n'));
        }
        return sb.toString();
    }

    public String refresh() {
        manager.refresh();
        return models();
    }

    /** {@code load MODEL [loader=ID] [option=value ...]} */
    public String load(String model, String... args) {
        String loader = null;
        Map<String, Object> options = new LinkedHashMap<>();
        for (String a : args) {
            int eq = a.indexOf('=');
            if (eq <= 0) {
                return "Expected option=value, got '" + a + "'. Usage: load MODEL [loader=ID] [option=value ...]\n";
            }
            String k = a.substring(0, eq);
            String v = a.substring(eq + 1);
            if (k.equals("loader")) {
                loader = v;
            } else {
                options.put(k, v);
            }
        }
        try {
            LoadedModelState s = manager.load(model, loader, options);
            StringBuilder sb = new StringBuilder("Loaded ").append(s.name()).append(" with ").append(s.info()
                    .loaderId()).append(": ").append(s.info().description()).append(", context ").append(s.info()
                            .contextLength()).append('\n');
            s.info().warnings().forEach(w -> sb.append("Note: ").append(w).append('\n'));
            return sb.toString();
        } catch (ModelLoadException e) {
            return "Failed: " + e.userMessage() + "\n";
        }
    }

    public String unload() {
        return manager.unload(null) ? "Unloaded.\n" : "No model is loaded.\n";
    }

    public String unload(String model) {
        return manager.unload(model) ? "Unloaded " + model + ".\n" : model + " is not loaded.\n";
    }

    public String loaded() {
        StringBuilder sb = new StringBuilder();
        for (LoadedModelState s : manager.loaded()) {
            sb.append(s.name()).append("  ").append(s.info().loaderId()).append("  context ")
                    .append(s.info().contextLength()).append("  since ").append(s.loadedAt()).append('\n');
        }
        return sb.isEmpty() ? "No model is loaded.\n" : sb.toString();
    }

    /**
     * {@code generate [-m MODEL] [-n MAX_TOKENS] [-t TEMPERATURE] [-s SEED] PROMPT...}: streams
     * the continuation to the console; greedy unless a temperature is given.
     */
    public String generate(String... args) {
        String model = null;
        int max = 200;
        Map<String, Object> sampling = new LinkedHashMap<>();
        sampling.put(Sampling.DO_SAMPLE, false);
        int i = 0;
        try {
            for (; i < args.length && args[i].startsWith("-") && args[i].length() == 2; i += 2) {
                if (i + 1 >= args.length) {
                    return "Missing value after " + args[i] + "\n";
                }
                switch (args[i]) {
                    case "-m" -> model = args[i + 1];
                    case "-n" -> max = Integer.parseInt(args[i + 1]);
                    case "-t" -> {
                        sampling.put(Sampling.TEMPERATURE, Double.parseDouble(args[i + 1]));
                        sampling.put(Sampling.DO_SAMPLE, true);
                    }
                    case "-s" -> sampling.put(Sampling.SEED, Long.parseLong(args[i + 1]));
                    default -> {
                        return "Unknown flag " + args[i] + ". Usage: generate [-m MODEL] [-n MAX] [-t TEMP] [-s SEED]"
                                + " PROMPT...\n";
                    }
                }
            }
        } catch (NumberFormatException e) {
            return "Not a number: " + e.getMessage() + "\n";
        }
        String prompt = String.join(" ", List.of(args).subList(i, args.length));
        if (prompt.isEmpty()) {
            return "Usage: generate [-m MODEL] [-n MAX] [-t TEMP] [-s SEED] PROMPT...\n";
        }
        PrintStream out = System.out; // Gogo routes the session's output through System.out.
        out.print(prompt);
        out.flush();
        try {
            GenerationRequest req = new GenerationRequest(prompt, max, sampling, List.of(), true, false, "");
            GenerationResult r = manager.generate(model, req, (id, text) -> {
                out.print(text);
                out.flush();
                return true;
            });
            return String.format(Locale.ROOT, "%n[%d prompt + %d generated tokens, %.1f tokens/s, stopped: %s]%n",
                    r.promptTokens(), r.generatedTokens(), r.tokensPerSecond(), r.reason());
        } catch (ModelLoadException e) {
            return "\nFailed: " + e.userMessage() + "\n";
        }
    }

    /** Lists the LoRA folder (and why other entries there are not offered) and what each loaded model has applied. */
    public String loras() {
        List<String> loras = manager.loras();
        StringBuilder sb = new StringBuilder("LoRAs in ").append(manager.lorasDir()).append(":\n");
        if (loras.isEmpty()) {
            sb.append("  (none: put a PEFT adapter folder, with adapter_config.json, there)\n");
        }
        loras.forEach(l -> sb.append("  ").append(l).append('\n'));
        io.loadstone.core.models.LoraFolder.skipped(manager.lorasDir()).forEach((name, why) -> sb.append("  (")
                .append(name).append(": skipped, ").append(why).append(")\n"));
        for (LoadedModelState s : manager.loaded()) {
            List<io.loadstone.api.loader.LoraAdapter> applied = manager.loras(s.name());
            sb.append("Applied to ").append(s.name()).append(" (").append(s.info().loaderId()).append("): ")
                    .append(applied.isEmpty() ? "none" : String.join(", ", applied.stream().map(a -> a.scale() == 1.0
                            ? a.name() : a.name() + "=" + a.scale()).toList())).append('\n');
        }
        return sb.toString();
    }

    /**
     * {@code lora [-m MODEL] NAME[=SCALE] [NAME[=SCALE] ...]} applies exactly these adapters to
     * the most recently loaded model (or MODEL); {@code lora --none} removes them all.
     */
    public String lora(String... args) {
        String model = null;
        List<String> names = new java.util.ArrayList<>();
        List<Double> scales = new java.util.ArrayList<>();
        boolean none = false;
        String usage = "Usage: lora [-m MODEL] NAME[=SCALE] [NAME[=SCALE] ...]  or  lora [-m MODEL] --none\n";
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-m")) {
                if (i + 1 >= args.length) {
                    return "Missing value after -m\n" + usage;
                }
                model = args[++i];
            } else if (a.equals("--none")) {
                none = true;
            } else if (a.startsWith("-")) {
                return "Unknown flag " + a + ". " + usage;
            } else {
                int eq = a.lastIndexOf('=');
                try {
                    scales.add(eq > 0 ? Double.parseDouble(a.substring(eq + 1)) : 1.0);
                } catch (NumberFormatException e) {
                    return "Not a number: " + a.substring(eq + 1) + "\n" + usage;
                }
                names.add(eq > 0 ? a.substring(0, eq) : a);
            }
        }
        if (none == !names.isEmpty()) {
            return (none ? "--none takes no LoRA names. " : "Name at least one LoRA, or --none. ") + usage;
        }
        try {
            List<io.loadstone.api.loader.LoraAdapter> applied = manager.setLoras(model, names, scales);
            return applied.isEmpty() ? "No LoRA applied now.\n" : "Applied: " + String.join(", ", applied.stream()
                    .map(x -> x.scale() == 1.0 ? x.name() : x.name() + "=" + x.scale()).toList()) + "\n";
        } catch (ModelLoadException e) {
            return "Failed: " + e.userMessage() + "\n";
        }
    }
}
