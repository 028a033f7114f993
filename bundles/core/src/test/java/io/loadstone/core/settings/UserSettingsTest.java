package io.loadstone.core.settings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UserSettingsTest {

    @TempDir
    Path models;

    /** A config-user.yaml as text-generation-webui writes it (keys are "<model name>$" regexes). */
    private static final String YAML = """
            TheBloke_Llama-2-13B-chat-GGUF$:
              loader: llama.cpp
              cpu: false
              threads: 0
              n_batch: 512
              n_gpu_layers: 43
              tensor_split: ''
              n_ctx: 4096
              compress_pos_emb: 1
              alpha_value: 1
              rope_freq_base: 0
            TheBloke_Llama-2-7B-GPTQ$:
              loader: ExLlamav2_HF
              wbits: 'None'
              max_seq_len: 4096
            .*wizard.*:
              loader: Transformers
            """;

    @Test
    void importsTextGenerationWebuiYamlByRegexKeys() throws Exception {
        Files.writeString(models.resolve("config-user.yaml"), YAML);
        UserSettings s = new UserSettings(models);
        List<String> sources = new ArrayList<>();
        Map<String, Object> got = s.saved("TheBloke_Llama-2-13B-chat-GGUF", sources);
        assertEquals("llama.cpp", got.get("loader"));
        assertEquals(4096, got.get("n_ctx"));
        assertEquals(43, got.get("n_gpu_layers"));
        assertTrue(sources.get(0).contains("config-user.yaml"), sources.toString());

        // The key is anchored at the end ('$'): a longer name does not match.
        assertTrue(s.saved("TheBloke_Llama-2-13B-chat-GGUF-v2", new ArrayList<>()).isEmpty());
        // 'None' (an empty dropdown) is no value.
        assertEquals(Map.of("loader", "ExLlamav2_HF", "max_seq_len", 4096), s.saved("TheBloke_Llama-2-7B-GPTQ",
                new ArrayList<>()));
        // Matching is case-insensitive, like the original's lower-casing.
        assertEquals("Transformers", s.saved("TheBloke_WizardLM-7B", new ArrayList<>()).get("loader"));
    }

    @Test
    void savedJsonWinsOverYamlAndSurvivesReopen() throws Exception {
        Files.writeString(models.resolve("config-user.yaml"), YAML);
        UserSettings s = new UserSettings(models);
        Map<String, Object> opts = new LinkedHashMap<>();
        opts.put("n_ctx", 2048L);
        opts.put("mlock", true);
        opts.put("rope_freq_base", 0.0);
        opts.put("tensor_split", "");
        Path f = s.save("TheBloke_Llama-2-13B-chat-GGUF", "llama.cpp", opts);
        assertEquals(models.resolve("config-user.json"), f);
        assertTrue(Files.readString(models.resolve("config-user.yaml")).contains("n_ctx: 4096"), "yaml untouched");

        List<String> sources = new ArrayList<>();
        Map<String, Object> got = new UserSettings(models).saved("TheBloke_Llama-2-13B-chat-GGUF", sources);
        assertEquals(2048L, got.get("n_ctx"));
        assertEquals(true, got.get("mlock"));
        assertEquals(43, got.get("n_gpu_layers"), "yaml values the json does not set stay");
        assertEquals(List.of("imported from config-user.yaml (TheBloke_Llama-2-13B-chat-GGUF$)",
                "saved in config-user.json"), sources);
    }

    @Test
    void brokenFilesAreIgnoredNotFatal() throws Exception {
        Files.writeString(models.resolve("config-user.yaml"), "a: [unclosed");
        Files.writeString(models.resolve("config-user.json"), "{broken");
        assertTrue(new UserSettings(models).saved("x", new ArrayList<>()).isEmpty());
        // Saving replaces the broken json with a valid one.
        new UserSettings(models).save("x", "llama.cpp", Map.of("n_ctx", 512L));
        assertEquals(512L, new UserSettings(models).saved("x", new ArrayList<>()).get("n_ctx"));
    }
}
