package io.loadstone.tokenizer.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
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
import io.loadstone.tokenizer.StreamDecoder;

/** Streaming decode: only complete text per push, and the same text as a full decode. */
class StreamDecoderTest {

    private static HfTokenizer tokenizer;

    @BeforeAll
    static void open() throws Exception {
        tokenizer = NativeTokenizers.library().open(NativeTokenizers.model("stories260K-hf"));
    }

    @AfterAll
    static void close() {
        if (tokenizer != null) {
            tokenizer.close();
        }
    }

    private static List<String> pushAll(StreamDecoder d, int[] ids) {
        List<String> out = new ArrayList<>();
        for (int id : ids) {
            out.add(d.push(id));
        }
        return out;
    }

    @Test
    void aCharacterSplitOverByteFallbackTokensComesOutOnceAndWhole() {
        int[] ids = tokenizer.encode("a 日 b", false);
        // Precondition, read from the vocabulary rather than assumed: 日 (E6 97 A5) is three byte tokens.
        List<String> pieces = IntStream.of(ids).mapToObj(id -> tokenizer.token(id).orElseThrow()).toList();
        int first = pieces.indexOf("<0xE6>");
        assertTrue(first > 0 && pieces.get(first + 1).equals("<0x97>") && pieces.get(first + 2).equals("<0xA5>"),
                pieces::toString);

        StreamDecoder d = tokenizer.streamDecoder(false);
        List<String> out = pushAll(d, ids);
        out.add(d.flush());
        assertEquals("", out.get(first), "first byte of 日 held back");
        assertEquals("", out.get(first + 1), "second byte of 日 held back");
        assertEquals("日", out.get(first + 2).strip(), "third byte completes 日");
        assertEquals(1, out.stream().filter(s -> s.contains("日")).count());
        assertFalse(out.stream().anyMatch(s -> s.indexOf('\uFFFD') >= 0), out::toString);
        assertEquals("a 日 b", String.join("", out));
    }

    @ParameterizedTest
    @ValueSource(strings = {"👩‍💻 codes, 👨‍👩‍👧‍👦 watch", "naïve 中文 text\nwith\tlines", "  spaced  out  ",
        "Once upon a time, there was a little girl named Lily."})
    void streamedTextEqualsTheFullDecode(String text) {
        int[] ids = tokenizer.encode(text, true);
        StreamDecoder d = tokenizer.streamDecoder(true);
        List<String> out = pushAll(d, ids);
        out.add(d.flush());
        assertEquals(tokenizer.decode(ids, true), String.join("", out));
        assertEquals(text, String.join("", out));
        for (String piece : out) {
            assertFalse(piece.indexOf('\uFFFD') >= 0, () -> "incomplete character emitted: " + out);
            assertFalse(!piece.isEmpty() && Character.isLowSurrogate(piece.charAt(0)), "split surrogate pair");
        }
    }

    @Test
    void generatedTokensAfterThePromptKeepTheirSpaces() throws Exception {
        JsonObject reference = JsonParser.parseString(Files.readString(NativeTokenizers.model("stories260K-lora-r8")
                .resolve("reference.json"))).getAsJsonObject();
        int[] prompt = ints(reference.getAsJsonArray("input_ids"));
        int[] generated = ints(reference.getAsJsonArray("base_greedy_ids"));
        StreamDecoder d = tokenizer.streamDecoder(prompt, true);
        List<String> out = pushAll(d, generated);
        out.add(d.flush());
        assertEquals(reference.get("base_greedy_text").getAsString(), String.join("", out));
        assertEquals(generated.length + 1, out.size());
        assertTrue(out.stream().filter(s -> !s.isEmpty()).count() >= generated.length - 1,
                "whole-word tokens come out as they arrive: " + out);

        // A word that starts the generation: with the prompt as context it keeps its leading space.
        int there = tokenizer.tokenId("\u2581there").orElseThrow();
        assertEquals(" there", tokenizer.streamDecoder(prompt, true).push(there));
        assertEquals("there", tokenizer.streamDecoder(true).push(there), "no context: the first space is stripped");
    }

    @Test
    void flushReturnsAnIncompleteCharacterAsAFullDecodeWouldWriteIt() {
        int e6 = tokenizer.tokenId("<0xE6>").orElseThrow();
        int x97 = tokenizer.tokenId("<0x97>").orElseThrow();
        StreamDecoder d = tokenizer.streamDecoder(false);
        assertEquals("", d.push(e6));
        assertEquals("", d.push(x97));
        assertEquals(tokenizer.decode(new int[] {e6, x97}, false), d.flush());
        assertEquals("", d.flush(), "nothing twice");
    }

    @Test
    void skippedSpecialTokensEmitNothing() {
        int[] ids = {1, 403, 2, 407};
        StreamDecoder d = tokenizer.streamDecoder(true);
        List<String> out = pushAll(d, ids);
        out.add(d.flush());
        assertEquals(tokenizer.decode(ids, true), String.join("", out));
        assertEquals("", out.get(0));
    }

    @Test
    void aBadIdIsRejectedWithoutBreakingTheStream() {
        StreamDecoder d = tokenizer.streamDecoder(false);
        assertEquals("Once", d.push(403));
        assertThrows(IllegalArgumentException.class, () -> d.push(9999));
        assertEquals(" upon", d.push(407));
        assertThrows(IllegalArgumentException.class, () -> tokenizer.streamDecoder(new int[] {-3}, false));
    }

    @Test
    void longStreamsStayCorrect() {
        String text = "Lily and 日本 and Ben. ".repeat(200);
        int[] ids = tokenizer.encode(text, false);
        StreamDecoder d = tokenizer.streamDecoder(false);
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            sb.append(d.push(id));
        }
        sb.append(d.flush());
        assertEquals(text, sb.toString());
        assertArrayEquals(ids, tokenizer.encode(sb.toString(), false));
    }

    private static int[] ints(JsonArray a) {
        return IntStream.range(0, a.size()).map(i -> a.get(i).getAsInt()).toArray();
    }
}
