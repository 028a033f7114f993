package io.loadstone.evaluation.perplexity;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The window arithmetic against text-generation-webui's loop, case by case. */
class WindowsTest {

    private static List<Windows.Window> sliding(int n, int stride, int maxLength) {
        return Windows.sliding(n, stride, maxLength).list();
    }

    @Test
    void textShorterThanMaxLengthIsOneWindowScoringAllButTheFirstToken() {
        assertEquals(List.of(new Windows.Window(0, 5, 0, -1)), sliding(5, 512, 100));
        assertEquals(4, Windows.sliding(5, 512, 100).scored());
    }

    @Test
    void overlappingWindowsScoreOnlyWhatTheLastOneDidNot() {
        // n=10, max_length 4, stride 2: [0,4) trg 4; [2,6) trg 2; [4,8) trg 2; [6,10) trg 2, end == n.
        List<Windows.Window> w = sliding(10, 2, 4);
        assertEquals(4, w.size());
        assertEquals(new Windows.Window(0, 4, 0, -1), w.get(0));
        assertEquals(new Windows.Window(2, 6, 1, -1), w.get(1)); // labels at window positions 2,3
        assertEquals(new Windows.Window(6, 10, 1, -1), w.get(3));
        assertEquals(9, Windows.sliding(10, 2, 4).scored()); // every token but the first, once
    }

    @Test
    void strideAboveMaxLengthSkipsTokensBetweenWindows() {
        // [0,2) and [3,5): token 2 is never a target, nor token 3 (first of its window).
        List<Windows.Window> w = sliding(5, 3, 2);
        assertEquals(List.of(new Windows.Window(0, 2, 0, -1), new Windows.Window(3, 5, 0, -1)), w);
        assertEquals(2, Windows.sliding(5, 3, 2).scored());
    }

    @Test
    void strideOneScoresOneNewTokenPerWindowAfterTheFirst() {
        List<Windows.Window> w = sliding(6, 1, 3);
        assertEquals(4, w.size()); // [0,3) [1,4) [2,5) [3,6)
        assertEquals(new Windows.Window(1, 4, 1, -1), w.get(1));
        assertEquals(5, Windows.sliding(6, 1, 3).scored());
    }

    @Test
    void aOneTokenTailWindowScoresNothing() {
        List<Windows.Window> w = sliding(5, 4, 4);
        assertEquals(2, w.size());
        assertEquals(0, w.get(1).scored());
    }

    @Test
    void chunksFollowLlamaCpp() {
        // n_chunk = 9 / 4 = 2 (the rest dropped); first = 2; n_ctx - 1 - first = 1 scored each.
        List<Windows.Window> w = Windows.chunks(9, 4, 0).list();
        assertEquals(List.of(new Windows.Window(0, 4, 2, 0), new Windows.Window(4, 8, 2, 0)), w);
        assertEquals(2, Windows.chunks(9, 4, 0).scored());
        assertEquals(255, Windows.chunks(1024, 512, 1).list().get(0).scored()); // llama.cpp: 255 at -c 512
    }
}
