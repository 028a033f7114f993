package io.loadstone.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

class StopStringsTest {

    @Test
    void aStopStringSplitOverPiecesIsNeverEmitted() {
        StopStrings s = new StopStrings(List.of("\nUser:"));
        StringBuilder out = new StringBuilder();
        for (String piece : List.of("Hello", " there", "\n", "Us", "er", ": more")) {
            out.append(s.append(piece));
        }
        assertTrue(s.stopped());
        assertEquals("Hello there", out.toString());
        assertEquals("Hello there", s.text());
    }

    @Test
    void heldTextIsReleasedWhenItTurnsOutNotToBeAStop() {
        StopStrings s = new StopStrings(List.of("\nUser:"));
        assertEquals("Hi", s.append("Hi\nU"));
        assertEquals("\nUnless", s.append("nless"));
        assertEquals("", s.append("\n"));
        assertEquals("\n", s.flush());
        assertFalse(s.stopped());
        assertEquals("Hi\nUnless\n", s.text());
    }

    @Test
    void theEarliestOfSeveralStopsWins() {
        StopStrings s = new StopStrings(List.of("world", "lo w", ""));
        assertEquals("hel", s.append("hello world"));
        assertTrue(s.stopped());
        assertEquals("", s.append("more"));
    }

    @Test
    void withoutStopsEverythingFlowsAtOnce() {
        StopStrings s = new StopStrings(List.of());
        assertEquals("abc", s.append("abc"));
        assertEquals("", s.flush());
    }

    @Test
    void surrogatePairsStayTogether() {
        // U+1F600 is a surrogate pair; a stop string starting with its low half must not split it.
        String smile = "\uD83D\uDE00";
        StopStrings s = new StopStrings(List.of("\uDE00x"));
        String first = s.append("a" + smile);
        assertEquals("a", first);
        assertEquals(smile + "b", s.append("b") + s.flush());
    }
}
