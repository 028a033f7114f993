package io.loadstone.tokenizer.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;

import io.loadstone.tokenizer.HfTokenizer;
import io.loadstone.tokenizer.StreamDecoder;

/**
 * The other tokenizer family: GPT-2 style byte-level BPE (as in Llama 3, Qwen, Mistral Nemo),
 * built here from its definition (256 byte tokens, a few merges, one special token), where a
 * multi-byte character is split over plain byte tokens rather than byte-fallback ones.
 */
class ByteLevelTokenizerTest {

    @TempDir
    static Path folder;

    private static HfTokenizer tokenizer;
    private static String[] byteChars;

    @BeforeAll
    static void open() throws Exception {
        byteChars = gpt2ByteChars();
        JsonObject vocab = new JsonObject();
        for (int b = 0; b < 256; b++) {
            vocab.addProperty(byteChars[b], b);
        }
        String space = byteChars[' '];
        vocab.addProperty(space + "t", 256);
        vocab.addProperty("he", 257);
        vocab.addProperty(space + "the", 258);
        JsonArray merges = new JsonArray();
        merges.add(space + " t");
        merges.add("h e");
        merges.add(space + "t he");

        JsonObject model = new JsonObject();
        model.addProperty("type", "BPE");
        model.add("dropout", JsonNull.INSTANCE);
        model.add("unk_token", JsonNull.INSTANCE);
        model.addProperty("fuse_unk", false);
        model.addProperty("byte_fallback", false);
        model.add("vocab", vocab);
        model.add("merges", merges);

        JsonObject byteLevel = new JsonObject();
        byteLevel.addProperty("type", "ByteLevel");
        byteLevel.addProperty("add_prefix_space", false);
        byteLevel.addProperty("trim_offsets", true);
        byteLevel.addProperty("use_regex", true);

        JsonObject eot = new JsonObject();
        eot.addProperty("id", 259);
        eot.addProperty("content", "<|endoftext|>");
        eot.addProperty("single_word", false);
        eot.addProperty("lstrip", false);
        eot.addProperty("rstrip", false);
        eot.addProperty("normalized", false);
        eot.addProperty("special", true);
        JsonArray added = new JsonArray();
        added.add(eot);

        JsonObject root = new JsonObject();
        root.addProperty("version", "1.0");
        root.add("truncation", JsonNull.INSTANCE);
        root.add("padding", JsonNull.INSTANCE);
        root.add("added_tokens", added);
        root.add("normalizer", JsonNull.INSTANCE);
        root.add("pre_tokenizer", byteLevel);
        root.add("post_processor", JsonNull.INSTANCE);
        root.add("decoder", byteLevel);
        root.add("model", model);
        Files.writeString(folder.resolve("tokenizer.json"), root.toString());
        Files.writeString(folder.resolve("tokenizer_config.json"),
                "{\"eos_token\": \"<|endoftext|>\", \"chat_template\": \"{{ messages }}\"}");
        tokenizer = NativeTokenizers.library().open(folder);
    }

    @AfterAll
    static void close() {
        if (tokenizer != null) {
            tokenizer.close();
        }
    }

    /** GPT-2's reversible byte-to-character table: printable bytes map to themselves, the rest above 255. */
    private static String[] gpt2ByteChars() {
        String[] out = new String[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF;
            out[b] = Character.toString(printable ? b : next++);
        }
        return out;
    }

    @Test
    void mergesAndSpecialTokensApply() {
        assertArrayEquals(new int[] {'t', 257, 258}, tokenizer.encode("the the", false));
        assertArrayEquals(new int[] {'a', 259, 'b'}, tokenizer.encode("a<|endoftext|>b", true));
        assertEquals("ab", tokenizer.decode(new int[] {'a', 259, 'b'}, true));
        assertEquals(260, tokenizer.vocabSize());
        assertEquals(OptionalInt.of(259), tokenizer.eosId());
        assertEquals(OptionalInt.empty(), tokenizer.bosId());
        assertTrue(tokenizer.isSpecial(259));
        assertEquals("{{ messages }}", tokenizer.chatTemplate().orElseThrow());
    }

    @ParameterizedTest
    @ValueSource(strings = {"the the", " leading and trailing ", "tabs\tand\nnewlines\r\n", "日本語 and 中文",
        "👩‍💻👨‍👩‍👧‍👦🏳️‍🌈", "\u0000nul", "€100 ≠ £5", ""})
    void roundTripsEveryByte(String text) {
        int[] ids = tokenizer.encode(text, false);
        assertEquals(text, tokenizer.decode(ids, false));
        // No merge covers a non-ASCII byte, so each byte of such a character is its own token.
        long nonAsciiBytes = 0;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            nonAsciiBytes += b < 0 ? 1 : 0;
        }
        assertEquals(nonAsciiBytes, java.util.stream.IntStream.of(ids).filter(id -> id >= 0x80 && id < 256).count());
    }

    @Test
    void streamingEmitsEachMultiByteCharacterOnceAndWhole() {
        String text = "€ 日本 👩‍💻!";
        int[] ids = tokenizer.encode(text, false);
        StreamDecoder d = tokenizer.streamDecoder(true);
        List<String> out = new ArrayList<>();
        for (int id : ids) {
            out.add(d.push(id));
        }
        out.add(d.flush());
        assertEquals(text, String.join("", out));
        for (String piece : out) {
            assertFalse(piece.indexOf('\uFFFD') >= 0, out::toString);
        }
        // "€" is bytes E2 82 AC: the first two pushes emit nothing, the third emits it whole.
        assertEquals(List.of("", "", "€"), out.subList(0, 3));
        assertEquals(1, out.stream().filter(s -> s.contains("日")).count());
    }
}
