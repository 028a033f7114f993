package io.loadstone.tokenizer.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.tokenizer.HfTokenizer;
import io.loadstone.tokenizer.TokenizerException;
import io.loadstone.tokenizer.TokenizerOptions;

/** What is read from a tokenizer folder besides tokenizer.json, and the errors for broken folders. */
class TokenizerFolderTest {

    private static JniTokenizerLibrary library;
    private static Path stories;

    @TempDir
    Path dir;

    @BeforeAll
    static void load() {
        stories = NativeTokenizers.model("stories260K-hf");
        library = NativeTokenizers.library();
    }

    private Path folderWith(String tokenizerConfig) throws IOException {
        Files.copy(stories.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        if (tokenizerConfig != null) {
            Files.writeString(dir.resolve("tokenizer_config.json"), tokenizerConfig);
        }
        return dir;
    }

    private TokenizerException openFails(Path folder) {
        return assertThrows(TokenizerException.class, () -> library.open(folder).close());
    }

    @Test
    void missingTokenizerJsonNamesTheFolderAndTheFix() throws IOException {
        Files.writeString(dir.resolve("config.json"), "{}");
        TokenizerException e = openFails(dir);
        assertEquals("no tokenizer.json in " + dir
                + ": download the tokenizer files, or place tokenizer.json beside the model", e.getMessage());
        assertEquals(dir.resolve("tokenizer.json"), e.file());
        TokenizerException absent = openFails(dir.resolve("no-such-model"));
        assertTrue(absent.getMessage().contains("no-such-model"), absent.getMessage());
    }

    @Test
    void truncatedTokenizerJsonIsReportedAsCorrupt() throws IOException {
        byte[] whole = Files.readAllBytes(stories.resolve("tokenizer.json"));
        Files.write(dir.resolve("tokenizer.json"), java.util.Arrays.copyOf(whole, whole.length / 2));
        TokenizerException e = openFails(dir);
        assertTrue(e.getMessage().startsWith(dir.resolve("tokenizer.json") + " is corrupt"), e.getMessage());
        assertTrue(e.getMessage().contains("download the tokenizer files again"), e.getMessage());
    }

    @Test
    void nonUtf8AndEmptyAndWrongJsonAreReportedWithTheFile() throws IOException {
        Files.write(dir.resolve("tokenizer.json"), new byte[] {'{', (byte) 0xC3, (byte) 0x28, '}'});
        assertTrue(openFails(dir).getMessage().contains("is not UTF-8"));
        Files.writeString(dir.resolve("tokenizer.json"), "");
        assertTrue(openFails(dir).getMessage().contains("is corrupt"));
        Files.writeString(dir.resolve("tokenizer.json"), "[1, 2, 3]");
        assertTrue(openFails(dir).getMessage().contains("is corrupt"));
        Files.writeString(dir.resolve("tokenizer.json"), "{\"version\": \"1.0\"}");
        assertTrue(openFails(dir).getMessage().contains("has no \"model\""));
    }

    @Test
    void jsonTheNativeLibraryRejectsIsReportedWithItsReason() throws IOException {
        // Well-formed JSON with a vocabulary, but not a BPE model the library can build.
        Files.writeString(dir.resolve("tokenizer.json"),
                "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": 7}}");
        TokenizerException e = openFails(dir);
        assertTrue(e.getMessage().startsWith(dir.resolve("tokenizer.json")
                + " is not a tokenizer the tokenizers library accepts ("), e.getMessage());
        assertTrue(e.getMessage().length() > 120, "the library's own reason is included: " + e.getMessage());
    }

    @Test
    void tooLargeTokenizerJsonIsRefusedBeforeReading() throws IOException {
        Path folder = folderWith(null);
        TokenizerException e = assertThrows(TokenizerException.class,
                () -> library.open(folder, TokenizerOptions.DEFAULTS.withMaxFileBytes(1000)));
        assertTrue(e.getMessage().contains("more than the 1000 allowed"), e.getMessage());
    }

    @Test
    void corruptCompanionFilesAreNamed() throws IOException {
        Path folder = folderWith("{\"add_bos_token\": tru");
        TokenizerException e = openFails(folder);
        assertTrue(e.getMessage().startsWith(folder.resolve("tokenizer_config.json") + " is not valid JSON"),
                e.getMessage());
        Files.writeString(folder.resolve("tokenizer_config.json"), "{\"add_bos_token\": \"yes\"}");
        assertTrue(openFails(folder).getMessage().contains("\"add_bos_token\" must be true or false"));
        Files.writeString(folder.resolve("tokenizer_config.json"), "{}");
        Files.writeString(folder.resolve("generation_config.json"), "{\"eos_token_id\": [2, \"x\"]}");
        TokenizerException g = openFails(folder);
        assertTrue(g.getMessage().startsWith(folder.resolve("generation_config.json").toString()), g.getMessage());
    }

    @Test
    void addBosTokenFalseInTheConfigOverridesThePostProcessor() throws Exception {
        Path folder = folderWith("{\"add_bos_token\": false, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}");
        try (HfTokenizer t = library.open(folder)) {
            assertArrayEquals(new int[] {403, 407, 261, 378}, t.encode("Once upon a time", true));
        }
        // Ignoring the config, tokenizer.json's TemplateProcessing adds <s>.
        try (HfTokenizer t = library.open(folder, TokenizerOptions.DEFAULTS.withConfigBosEos(false))) {
            assertArrayEquals(new int[] {1, 403, 407, 261, 378}, t.encode("Once upon a time", true));
        }
    }

    @Test
    void addEosTokenTrueAppendsEos() throws Exception {
        Path folder = folderWith("{\"add_bos_token\": true, \"add_eos_token\": true, "
                + "\"bos_token\": {\"content\": \"<s>\", \"special\": true}, \"eos_token\": \"</s>\"}");
        try (HfTokenizer t = library.open(folder)) {
            assertArrayEquals(new int[] {1, 403, 407, 261, 378, 2}, t.encode("Once upon a time", true));
            assertArrayEquals(new int[] {403, 407, 261, 378}, t.encode("Once upon a time", false));
        }
    }

    @Test
    void withoutAnyConfigTheGenerationConfigGivesBosAndEos() throws Exception {
        Path folder = folderWith(null);
        Files.writeString(folder.resolve("generation_config.json"), "{\"bos_token_id\": 1, \"eos_token_id\": [2, 0]}");
        try (HfTokenizer t = library.open(folder)) {
            assertEquals(OptionalInt.of(1), t.bosId());
            assertEquals(OptionalInt.of(2), t.eosId());
            assertEquals(Set.of(2, 0), t.eosIds());
            assertTrue(t.specialTokens().isEmpty());
            assertArrayEquals(new int[] {1, 403}, t.encode("Once", true), "post-processor decides");
        }
    }

    @Test
    void chatTemplateComesFromTheConfigOrTheJinjaFile() throws Exception {
        Path folder = folderWith("{\"chat_template\": \"{{ bos_token }}{% for m in messages %}{{ m.content }}"
                + "{% endfor %}\", \"pad_token\": \"<unk>\"}");
        try (HfTokenizer t = library.open(folder)) {
            assertEquals(Optional.of("{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"),
                    t.chatTemplate());
            assertEquals("<unk>", t.specialTokens().get("pad_token"));
            assertEquals(null, t.specialTokens().get("bos_token"), "no config names it and there is no map");
        }
    }

    @Test
    void tokenizerConfigOverridesTheSpecialTokensMap() throws Exception {
        Path folder = folderWith("{\"eos_token\": \"<s>\", \"pad_token\": \"<unk>\"}");
        Files.copy(stories.resolve("special_tokens_map.json"), folder.resolve("special_tokens_map.json"));
        try (HfTokenizer t = library.open(folder)) {
            assertEquals("<s>", t.specialTokens().get("bos_token"), "from special_tokens_map.json");
            assertEquals("<s>", t.specialTokens().get("eos_token"), "tokenizer_config.json wins");
            assertEquals("<unk>", t.specialTokens().get("pad_token"));
            assertEquals(OptionalInt.of(1), t.eosId());
        }
    }

    @Test
    void namedTemplatesPickDefaultAndTheJinjaFileWins() throws Exception {
        Path folder = folderWith("{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, "
                + "{\"name\": \"default\", \"template\": \"D\"}]}");
        try (HfTokenizer t = library.open(folder)) {
            assertEquals(Optional.of("D"), t.chatTemplate());
        }
        Files.writeString(folder.resolve("chat_template.jinja"), "J\n", StandardCharsets.UTF_8);
        try (HfTokenizer t = library.open(folder)) {
            assertEquals(Optional.of("J\n"), t.chatTemplate());
        }
    }
}
