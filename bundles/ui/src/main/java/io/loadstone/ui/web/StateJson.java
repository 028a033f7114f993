package io.loadstone.ui.web;

import java.util.Comparator;
import java.util.List;
import java.util.Map;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;

import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.api.runtime.ByteSize;
import io.loadstone.api.runtime.LoadedModelState;
import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelEntry;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.api.runtime.ModelMetadata;
import io.loadstone.api.runtime.ModelSettings;
import io.loadstone.ui.generation.SamplerSpec;
import io.loadstone.ui.http.HttpIo;

/** The whole runtime as the page shows it, in one JSON object: one fetch redraws every tab. */
final class StateJson {

    private StateJson() {
    }

    static JsonObject of(ModelManager m, Map<String, int[]> queue) {
        JsonObject o = new JsonObject();
        o.addProperty("modelsDir", m.modelsDir().toString());
        o.addProperty("lorasDir", m.lorasDir().toString());
        o.add("loras", HttpIo.GSON.toJsonTree(m.loras()));
        List<LoadedModelState> loaded = m.loaded();
        JsonArray models = new JsonArray();
        for (ModelEntry e : m.models()) {
            JsonObject x = new JsonObject();
            x.addProperty("name", e.name());
            x.addProperty("sizeBytes", e.sizeBytes());
            x.addProperty("size", ByteSize.format(e.sizeBytes()));
            x.addProperty("best", e.bestLoader());
            x.addProperty("hint", e.hint());
            x.addProperty("loaded", loaded.stream().anyMatch(s -> s.name().equals(e.name())));
            JsonArray cands = new JsonArray();
            for (ModelEntry.Candidate c : e.candidates()) {
                JsonObject y = new JsonObject();
                y.addProperty("loader", c.loaderId());
                y.addProperty("score", c.detection().score());
                y.addProperty("reason", c.detection().reason());
                cands.add(y);
            }
            x.add("candidates", cands);
            // Why the other installed loaders cannot load it: the loader menu and its note say so.
            x.add("refusals", HttpIo.GSON.toJsonTree(m.refusals(e.name())));
            models.add(x);
        }
        o.add("models", models);
        JsonArray loaders = new JsonArray();
        for (LoaderInfo l : m.loaders()) {
            loaders.add(loader(l));
        }
        o.add("loaders", loaders);
        JsonArray ls = new JsonArray();
        for (LoadedModelState s : loaded.stream().sorted(Comparator.comparing(LoadedModelState::loadedAt)).toList()) {
            JsonObject x = new JsonObject();
            x.addProperty("name", s.name());
            x.addProperty("loader", s.info().loaderId());
            x.addProperty("description", s.info().description());
            x.addProperty("contextLength", s.info().contextLength());
            x.addProperty("trainedContextLength", s.info().trainedContextLength());
            x.addProperty("vocabSize", s.info().vocabSize());
            x.addProperty("hasChatTemplate", !s.info().chatTemplate().isEmpty());
            x.add("warnings", HttpIo.GSON.toJsonTree(s.info().warnings()));
            x.add("effectiveOptions", HttpIo.GSON.toJsonTree(s.info().effectiveOptions()));
            x.addProperty("loadedAt", s.loadedAt().toString());
            x.addProperty("lastUsed", s.lastUsed().toString());
            // What the LoRA menu needs without a second look-up: the loader's support and the applied set.
            x.addProperty("loraSupport", m.loaders().stream().filter(l -> l.id().equals(s.info().loaderId()))
                    .map(l -> l.capabilities().lora().name()).findFirst().orElse("NONE"));
            JsonArray applied = new JsonArray();
            for (LoraAdapter a : m.loras(s.name())) {
                JsonObject y = new JsonObject();
                y.addProperty("name", a.name());
                y.addProperty("scale", a.scale());
                applied.add(y);
            }
            x.add("loras", applied);
            ls.add(x);
        }
        o.add("loaded", ls);
        o.add("samplers", HttpIo.GSON.toJsonTree(SamplerSpec.ALL));
        JsonObject q = new JsonObject();
        queue.forEach((model, c) -> {
            JsonObject x = new JsonObject();
            x.addProperty("running", c[0]);
            x.addProperty("waiting", c[1]);
            q.add(model, x);
        });
        o.add("queue", q);
        return o;
    }

    static JsonObject loader(LoaderInfo l) {
        JsonObject x = new JsonObject();
        x.addProperty("id", l.id());
        x.addProperty("description", l.description());
        x.addProperty("bundle", l.bundle());
        x.addProperty("bundleVersion", l.bundleVersion());
        JsonObject caps = new JsonObject();
        caps.addProperty("lora", l.capabilities().lora().name());
        caps.addProperty("cfg", l.capabilities().cfg());
        caps.addProperty("logits", l.capabilities().logits());
        caps.add("samplers", HttpIo.GSON.toJsonTree(l.capabilities().samplers().stream().sorted().toList()));
        x.add("capabilities", caps);
        JsonArray opts = new JsonArray();
        for (OptionSpec s : l.options()) {
            JsonObject y = new JsonObject();
            y.addProperty("name", s.name());
            y.addProperty("type", s.type().name());
            y.add("default", HttpIo.GSON.toJsonTree(s.defaultValue()));
            y.add("min", s.min() == null ? JsonNull.INSTANCE : HttpIo.GSON.toJsonTree(s.min()));
            y.add("max", s.max() == null ? JsonNull.INSTANCE : HttpIo.GSON.toJsonTree(s.max()));
            y.add("choices", HttpIo.GSON.toJsonTree(s.choices()));
            y.addProperty("help", s.help());
            y.add("applies", s.applies() == null ? JsonNull.INSTANCE : HttpIo.GSON.toJsonTree(s.applies()));
            opts.add(y);
        }
        x.add("options", opts);
        return x;
    }

    /** A model's settings: the loader to use, every option's value, where they came from, what the files say. */
    static JsonObject settings(ModelSettings s) {
        JsonObject o = new JsonObject();
        o.addProperty("model", s.model());
        o.add("loader", s.loader() == null ? JsonNull.INSTANCE : HttpIo.GSON.toJsonTree(s.loader()));
        JsonObject opts = new JsonObject();
        s.options().forEach((k, v) -> opts.add(k, HttpIo.GSON.toJsonTree(v)));
        o.add("options", opts);
        o.add("sources", HttpIo.GSON.toJsonTree(s.sources()));
        ModelMetadata m = s.metadata();
        JsonObject meta = new JsonObject();
        meta.addProperty("format", m.format());
        meta.addProperty("architecture", m.architecture());
        meta.addProperty("contextLength", m.contextLength());
        meta.addProperty("ropeFreqBase", m.ropeFreqBase());
        meta.addProperty("compressPosEmb", m.compressPosEmb());
        meta.addProperty("quantMethod", m.quantMethod());
        meta.addProperty("wbits", m.wbits());
        meta.addProperty("groupsize", m.groupsize());
        meta.addProperty("descAct", m.descAct());
        meta.addProperty("hasChatTemplate", !m.chatTemplate().isEmpty());
        meta.add("extra", HttpIo.GSON.toJsonTree(m.extra()));
        o.add("metadata", meta);
        return o;
    }
}
