package io.loadstone.tokenizer.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import io.loadstone.tokenizer.HfTokenizer;

/**
 * stories260K's tokenizer.json against the ids and texts transformers wrote to
 * stories260K-lora-r8/reference.json, and round trips of text that tokenizers get wrong easily.
 */
class StoriesTokenizerTest {

    private static HfTokenizer tokenizer;
    private static JsonObject reference;

    @BeforeAll
    static void open() throws Exception {
        Path folder = NativeTokenizers.model("stories260K-hf");
        reference = JsonParser.parseString(Files.readString(NativeTokenizers.model("stories260K-lora-r8")
                .resolve("reference.json"))).getAsJsonObject();
        tokenizer = NativeTokenizers.library().open(folder);
    }

    @AfterAll
    static void close() {
        if (tokenizer != null) {
            tokenizer.close();
        }
    }

    private static int[] ints(String key) {
        JsonArray a = reference.getAsJsonArray(key);
        return IntStream.range(0, a.size()).map(i -> a.get(i).getAsInt()).toArray();
    }

    @Test
    void encodesThePromptAsTransformersDid() {
        int[] expected = ints("input_ids");
        assertArrayEquals(expected, tokenizer.encode(reference.get("prompt").getAsString(), true));
        // Without special tokens: the same minus BOS.
        assertArrayEquals(java.util.Arrays.copyOfRange(expected, 1, expected.length),
                tokenizer.encode(reference.get("prompt").getAsString(), false));
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "adapter", "both_adapters"})
    void decodesReferenceGreedyIdsToTheReferenceText(String run) {
        int[] generated = ints(run + "_greedy_ids");
        assertEquals(reference.get(run + "_greedy_text").getAsString(), tokenizer.decode(generated, true));
        int[] full = IntStream.concat(IntStream.of(ints("input_ids")), IntStream.of(generated)).toArray();
        // both_adapters has no full text in the file; it is the prompt followed by the generated text.
        String fullText = reference.has(run + "_greedy_full_text")
                ? reference.get(run + "_greedy_full_text").getAsString()
                : reference.get("prompt").getAsString() + reference.get(run + "_greedy_text").getAsString();
        assertEquals(fullText, tokenizer.decode(full, true));
        // BOS kept when special tokens are not skipped; the SentencePiece "▁" of the first word then
        // shows as a space, as transformers writes it.
        assertEquals("<s> " + fullText, tokenizer.decode(full, false));
    }

    @ParameterizedTest
    @ValueSource(strings = {"Once upon a time", " leading space", "trailing space ", "  two  spaces  ",
        "line one\nline two\n\n", "crlf\r\nend", "tab\tseparated\tvalues", "café naïve façade Ångström",
        "日本語のテキスト", "中文", "👩‍💻 and 👨‍👩‍👧‍👦 and 🏳️‍🌈", "ﬁ ligature", "digits 0123456789 3.14159",
        "punctuation: \"quotes\", (parens) [brackets] {braces} ... !?", "control \u0000\u0007\u001b chars",
        "a", ""})
    void roundTripsHardStrings(String text) {
        int[] ids = tokenizer.encode(text, false);
        assertEquals(text, tokenizer.decode(ids, false), () -> "ids " + java.util.Arrays.toString(ids));
        int[] withBos = tokenizer.encode(text, true);
        assertEquals(1, withBos[0]);
        assertEquals(text, tokenizer.decode(withBos, true));
    }

    @Test
    void literalSpecialTokensInTextAreMatchedAsSpecialTokens() {
        int[] ids = tokenizer.encode("a <s> b</s>", false);
        assertTrue(IntStream.of(ids).anyMatch(id -> id == 1), "literal <s> becomes id 1");
        assertEquals(2, ids[ids.length - 1], "literal </s> becomes id 2");
        assertTrue(tokenizer.decode(ids, false).contains("<s>"));
        String skipped = tokenizer.decode(ids, true);
        assertFalse(skipped.contains("<s>") || skipped.contains("</s>"), skipped);
        assertArrayEquals(new int[] {1}, tokenizer.encode("<s>", false));
    }

    @Test
    void exposesVocabularyAndSpecialTokens() {
        assertEquals(512, tokenizer.vocabSize());
        assertEquals(OptionalInt.of(1), tokenizer.bosId());
        assertEquals(OptionalInt.of(2), tokenizer.eosId());
        assertEquals(Set.of(2), tokenizer.eosIds());
        assertEquals(OptionalInt.of(1), tokenizer.tokenId("<s>"));
        assertEquals(OptionalInt.of(403), tokenizer.tokenId("\u2581Once"));
        assertEquals(Optional.of("\u2581Once"), tokenizer.token(403));
        assertEquals(Optional.empty(), tokenizer.token(512));
        assertTrue(tokenizer.isSpecial(1) && tokenizer.isSpecial(2) && tokenizer.isSpecial(0));
        assertFalse(tokenizer.isSpecial(403));
        assertEquals(Map.of("bos_token", "<s>", "eos_token", "</s>", "unk_token", "<unk>"), tokenizer.specialTokens());
        assertEquals(Optional.empty(), tokenizer.chatTemplate(), "stories260K has no chat template");
        // Every id of the vocabulary decodes without touching the native side's panicking paths.
        for (int id = 0; id < tokenizer.vocabSize(); id++) {
            tokenizer.decode(new int[] {id}, false);
        }
    }

    @Test
    void rejectsIdsOutsideTheVocabulary() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> tokenizer.decode(new int[] {1, 512}, false));
        assertTrue(e.getMessage().contains("512") && e.getMessage().contains("stories260K-hf"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(new int[] {-1}, false));
        assertEquals("", tokenizer.decode(new int[0], false));
    }

    @Test
    void encodesTheSameFromManyThreads() throws Exception {
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            texts.add("Once upon a time " + i + " there was 日本 " + "x".repeat(i));
        }
        List<int[]> expected = texts.stream().map(t -> tokenizer.encode(t, true)).toList();
        try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int thread = 0; thread < 4; thread++) {
                results.add(pool.submit(() -> {
                    for (int round = 0; round < 20; round++) {
                        for (int i = 0; i < texts.size(); i++) {
                            int[] ids = tokenizer.encode(texts.get(i), true);
                            if (!java.util.Arrays.equals(ids, expected.get(i))
                                    || !tokenizer.decode(ids, true).equals(texts.get(i))) {
                                return false;
                            }
                        }
                    }
                    return true;
                }));
            }
            for (Future<Boolean> r : results) {
                assertTrue(r.get());
            }
        }
    }

    @Test
    void aClosedTokenizerSaysSoInsteadOfCrashing() throws Exception {
        HfTokenizer t = NativeTokenizers.library().open(NativeTokenizers.model("stories260K-hf"));
        assertArrayEquals(new int[] {1, 403}, t.encode("Once", true));
        t.close();
        t.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.encode("Once", true));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> t.decode(new int[] {403}, true));
    }

    @Test
    void acceptsTheTokenizerJsonFileInsteadOfItsFolder() throws Exception {
        Path file = NativeTokenizers.model("stories260K-hf").resolve("tokenizer.json");
        try (HfTokenizer t = NativeTokenizers.library().open(file)) {
            assertEquals(file.getParent(), t.folder());
            assertArrayEquals(ints("input_ids"), t.encode("Once upon a time", true));
        }
    }
}
