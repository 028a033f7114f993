package io.loadstone.llamacpp.loading;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

class Utf8PiecesTest {

    @Test
    void charactersSplitAcrossTokensAreReleasedWhole() {
        String text = "a é € 😀 z";
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        Utf8Pieces u = new Utf8Pieces();
        StringBuilder out = new StringBuilder();
        for (byte x : b) {
            String s = u.push(new byte[] {x});
            // Never half a character: every release is valid UTF-16 on its own.
            assertEquals(s, new String(s.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8));
            assertFalse(!s.isEmpty() && Character.isHighSurrogate(s.charAt(s.length() - 1)), s);
            out.append(s);
        }
        assertFalse(u.hasPending());
        assertEquals(text, out.toString());
    }

    @Test
    void anEmojiIsHeldUntilItsFourthByte() {
        byte[] e = "😀".getBytes(StandardCharsets.UTF_8);
        Utf8Pieces u = new Utf8Pieces();
        assertEquals("", u.push(Arrays.copyOfRange(e, 0, 1)));
        assertEquals("", u.push(Arrays.copyOfRange(e, 1, 3)));
        assertTrue(u.hasPending());
        assertEquals("x😀", "x" + u.push(Arrays.copyOfRange(e, 3, 4)));
    }

    @Test
    void brokenBytesDoNotStallTheStream() {
        Utf8Pieces u = new Utf8Pieces();
        assertEquals("\uFFFD", u.push(new byte[] {(byte) 0x80}));
        assertEquals("", u.push(new byte[] {(byte) 0xE2, (byte) 0x82}));
        assertEquals("\uFFFDb", u.push(new byte[] {'b'}).replace("\uFFFD\uFFFD", "\uFFFD"));
        assertEquals("", u.push(new byte[] {(byte) 0xF0}));
        assertEquals("\uFFFD", u.flush());
    }
}
