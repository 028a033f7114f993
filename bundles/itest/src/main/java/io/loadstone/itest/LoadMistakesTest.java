package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.google.gson.JsonObject;

import io.loadstone.api.runtime.LoaderInfo;
import io.loadstone.api.runtime.ModelManager;

/**
 * The mistakes users make when loading, over HTTP, for each loader family (llama.cpp's three loaders,
 * Transformers, the GPTQ loaders): a bad option value or a file that is wrong for the loader is a 4xx whose
 * error names the option or the file — never a 500, which is for our own bugs — and the server loads the next
 * good model as if nothing happened.
 */
class LoadMistakesTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String GPTQ = "stories260K-gptq-4bit-32g-actorder";

    private ModelManager manager;
    private WebServer web;

    @BeforeEach
    void setUp() throws Exception {
        String s = Framework.context().getProperty("loadstone.shared.models");
        assumeTrue(s != null && Files.isDirectory(Path.of(s, GPTQ)), "shared models absent: " + s);
        Path shared = Path.of(s);
        Path models = Framework.workDir("mistakes-models");
        byte[] gguf = Files.readAllBytes(Framework.testBundle("stories260K.gguf"));
        Files.write(models.resolve("stories260K.gguf"), gguf);
        Files.write(models.resolve("half.gguf"), Arrays.copyOf(gguf, gguf.length / 2));
        copy(shared.resolve("stories260K-hf"), models.resolve("hf"));
        copy(shared.resolve(GPTQ), models.resolve("gptq"));
        // A Hugging Face folder whose weights were cut short (an interrupted download).
        copy(shared.resolve("stories260K-hf"), models.resolve("hf-truncated"));
        Path weights = models.resolve("hf-truncated").resolve("model.safetensors");
        byte[] w = Files.readAllBytes(weights);
        Files.write(weights, Arrays.copyOf(w, w.length - 4096));
        manager = Framework.useModels(models, "max.loaded.models", 2);
        Framework.await("the loaders of every family", WAIT, () -> manager.loaders().stream().map(LoaderInfo::id)
                .toList().containsAll(List.of("llama.cpp", "llamacpp_HF", "ctransformers", "Transformers",
                        "AutoGPTQ")));
        web = WebServer.start();
    }

    @AfterEach
    void tearDown() {
        manager.loaded().forEach(st -> manager.unload(st.name()));
    }

    private static void copy(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
    }

    @Test
    void badOptionsAndWrongFilesAre4xxNamingThem() throws Exception {
        // model, args, what the error must name
        String[][] cases = {
            // llama.cpp: an option value that cannot work, a file cut short
            {"stories260K.gguf", "{\"loader\":\"llama.cpp\",\"cache_type\":\"fp3\"}", "cache_type"},
            {"stories260K.gguf", "{\"loader\":\"llama.cpp\",\"n_ctx\":-5}", "n_ctx"},
            {"half.gguf", "{\"loader\":\"llama.cpp\"}", "half.gguf"},
            // llamacpp_HF: no Hugging Face tokenizer beside the GGUF, so the loader is the mistake
            {"stories260K.gguf", "{\"loader\":\"llamacpp_HF\"}", "loader"},
            // ctransformers: the same cut file
            {"half.gguf", "{\"loader\":\"ctransformers\"}", "half.gguf"},
            // Transformers: 8-bit on a checkpoint that is already 4-bit, both 8- and 4-bit, cut weights
            {"gptq", "{\"loader\":\"Transformers\",\"load_in_8bit\":true}", "load_in_8bit"},
            {"hf", "{\"loader\":\"Transformers\",\"load_in_8bit\":true,\"load_in_4bit\":true}", "load_in_"},
            {"hf-truncated", "{\"loader\":\"Transformers\"}", "model.safetensors"},
            // a GPTQ loader on a folder that holds no GPTQ checkpoint, and a wrong option type
            {"hf", "{\"loader\":\"AutoGPTQ\"}", "AutoGPTQ"},
            {"gptq", "{\"loader\":\"AutoGPTQ\",\"threads\":\"many\"}", "threads"},
        };
        List<String> wrong = new java.util.ArrayList<>();
        for (String[] c : cases) {
            String body = "{\"model_name\":\"" + c[0] + "\",\"args\":" + c[1] + "}";
            var r = web.post("v1/internal/model/load", body);
            manager.loaded().forEach(st -> manager.unload(st.name()));
            if (r.statusCode() < 400 || r.statusCode() >= 500) {
                wrong.add("a 4xx for " + body + ", got " + r.statusCode() + ": " + r.body());
                continue;
            }
            JsonObject error = WebServer.json(r).getAsJsonObject().getAsJsonObject("error");
            String named = error.get("message").getAsString() + " " + (error.get("param").isJsonNull() ? ""
                    : error.get("param").getAsString());
            if (!error.get("type").getAsString().equals("invalid_request_error") || !named.contains(c[2])) {
                wrong.add("an invalid_request_error naming " + c[2] + " for " + body + ": " + r.body());
            }
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
        assertTrue(manager.loaded().isEmpty(), "no mistake left a model loaded");
        assertEquals(200, web.post("v1/internal/model/load", "{\"model_name\":\"stories260K.gguf\",\"args\":"
                + "{\"loader\":\"llama.cpp\",\"n_ctx\":256}}").statusCode());
        assertEquals(200, web.post("v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":4}")
                .statusCode());
    }

    /** Mistakes in what a loaded llama.cpp model is asked to do are 4xx naming the parameter, too. */
    @Test
    void badGenerationParametersForALlamaCppModelAre4xx() throws Exception {
        assertEquals(200, web.post("v1/internal/model/load", "{\"model_name\":\"stories260K.gguf\",\"args\":"
                + "{\"loader\":\"llama.cpp\",\"n_ctx\":64}}").statusCode());
        String[][] cases = {
            {"v1/completions", "{\"prompt\":\"x\",\"mirostat_mode\":5}", "mirostat_mode"},
            {"v1/completions", "{\"prompt\":\"x\",\"guidance_scale\":1.5,\"negative_prompt\":\"y\"}",
                "guidance_scale"},
            {"v1/internal/decode", "{\"tokens\":[1, 999999]}", "tokens"},
        };
        List<String> wrong = new java.util.ArrayList<>();
        for (String[] c : cases) {
            var r = web.post(c[0], c[1]);
            if (r.statusCode() < 400 || r.statusCode() >= 500 || !r.body().contains(c[2])) {
                wrong.add(c[0] + " " + c[1].substring(0, Math.min(80, c[1].length())) + ": a 4xx naming " + c[2]
                        + ", got " + r.statusCode() + ": " + r.body());
            }
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
        assertEquals(200, web.post("v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":4}")
                .statusCode(), "the model still works");
    }
}
