package io.loadstone.loader.transformers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class StopStringsTest {

    @Test
    void stopStringSplitOverPiecesIsHeldBackAndCut() {
        StopStrings s = new StopStrings(List.of("\nUser:"));
        assertEquals("Hello", s.append("Hello"));
        assertEquals("", s.append("\nUs"), "could be the stop string: held back");
        assertEquals("", s.append("er: more"));
        assertTrue(s.stopped());
        assertEquals("Hello", s.text());
        assertEquals("", s.append("ignored"));
    }

    @Test
    void heldBackTextIsReleasedWhenItIsNotAStopString() {
        StopStrings s = new StopStrings(List.of("###", ""));
        StringBuilder out = new StringBuilder();
        out.append(s.append("a #"));
        assertEquals("a ", out.toString());
        out.append(s.append("# b"));
        out.append(s.flush());
        assertFalse(s.stopped());
        assertEquals("a ## b", out.toString());
        assertEquals(out.toString(), s.text());
    }

    @Test
    void earliestOfSeveralStopsWins() {
        StopStrings s = new StopStrings(List.of("world", "lo w"));
        assertEquals("hel", s.append("hello world"));
        assertTrue(s.stopped());
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
