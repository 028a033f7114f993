package io.loadstone.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.Sampling;
import io.loadstone.api.loader.StopReason;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The shared loop on a scripted model: greedy sampling over logits that name the next token of a
 * script, so every stop reason can be provoked exactly.
 */
class TokenLoopTest {

    private static final int VOCAB = 8;
    private static final int EOS = 7;
    /** Token i prints as a letter, EOS as nothing. */
    private static final String[] TEXT = {"a", "b", "c", "d", "e", "f", "g", ""};

    /** Logits that make greedy pick {@code token}. */
    private static float[] pick(int token) {
        float[] l = new float[VOCAB];
        l[token] = 10;
        return l;
    }

    /** A sequence that, after each appended token, predicts the next one of {@code script}. */
    private static final class Scripted implements TokenLoop.Sequence<IOException> {
        final int[] script;
        final int capacity;
        int step;
        final List<Integer> appended = new ArrayList<>();
        IOException failAt;

        Scripted(int capacity, int... script) {
            this.script = script;
            this.capacity = capacity;
        }

        float[] first() {
            return pick(script[0]);
        }

        @Override
        public float[] append(int token) throws IOException {
            if (failAt != null && appended.size() == 2) {
                throw failAt;
            }
            appended.add(token);
            step++;
            return pick(script[Math.min(step, script.length - 1)]);
        }

        @Override
        public boolean full() {
            return appended.size() >= capacity;
        }
    }

    private record Run(TokenLoop.Outcome outcome, StopReason finalReason, String text, List<String> pieces) {
    }

    private static Run run(GenerationRequest r, Scripted main, boolean[] closed, int acceptUntil) throws IOException {
        StopStrings stops = new StopStrings(r.stop());
        SamplingSession s = SamplingSession.start(r, new int[] {1}, EOS);
        TokenLoop loop = new TokenLoop(s, t -> t == EOS, t -> TEXT[t], stops, () -> closed[0]);
        List<String> pieces = new ArrayList<>();
        TokenLoop.Outcome o = loop.run(r, (id, text) -> {
            pieces.add(text);
            return pieces.size() < acceptUntil;
        }, main, main.first(), null, null);
        StopReason fin = loop.finish(o, () -> "", (id, text) -> pieces.add(text));
        return new Run(o, fin, stops.text(), pieces);
    }

    private static GenerationRequest greedy(int max, List<String> stop, boolean banEos) {
        return new GenerationRequest("p", max, Map.of(Sampling.DO_SAMPLE, false), stop, true, banEos, "");
    }

    @Test
    void endsForEachReasonInTextGenerationWebuisOrder() throws IOException {
        boolean[] open = {false};
        Run eos = run(greedy(10, List.of(), false), new Scripted(100, 0, 1, EOS, 2), open, 99);
        assertEquals(StopReason.EOS, eos.outcome().reason());
        assertEquals(2, eos.outcome().generated());
        assertEquals("ab", eos.text());

        Run banned = run(greedy(4, List.of(), true), new Scripted(100, 0, 1, EOS, 2), open, 99);
        assertEquals(StopReason.LENGTH, banned.outcome().reason(), "a banned EOS is never sampled");
        assertEquals(4, banned.outcome().generated());

        Run length = run(greedy(3, List.of(), false), new Scripted(100, 0, 1, 2, 3, 4), open, 99);
        assertEquals(StopReason.LENGTH, length.outcome().reason());
        assertEquals("abc", length.text());

        Run stop = run(greedy(10, List.of("cd"), false), new Scripted(100, 0, 1, 2, 3, 4), open, 99);
        assertEquals(StopReason.STOP_STRING, stop.outcome().reason());
        assertEquals("ab", stop.text(), "the stop string itself is not part of the text");

        Run full = run(greedy(10, List.of(), false), new Scripted(2, 0, 1, 2, 3, 4), open, 99);
        assertEquals(StopReason.CONTEXT_FULL, full.outcome().reason());
        assertEquals(3, full.outcome().generated(), "two positions appended, the third token sampled and sent");

        Run cancelled = run(greedy(10, List.of(), false), new Scripted(100, 0, 1, 2, 3, 4), open, 2);
        assertEquals(StopReason.CANCELLED, cancelled.outcome().reason());
        assertFalse(cancelled.outcome().sinkOpen());
        assertEquals(StopReason.CANCELLED, cancelled.finalReason(), "nothing more goes to a closed sink");

        Run closed = run(greedy(10, List.of(), false), new Scripted(100, 0, 1, 2, 3, 4), new boolean[] {true}, 99);
        assertEquals(StopReason.CLOSED, closed.outcome().reason());
        assertEquals(0, closed.outcome().generated());
    }

    @Test
    void finishReleasesHeldBackTextAndCanCompleteAStopString() throws IOException {
        // "c" could start the stop string "cz", so StopStrings holds it back until the end.
        Run held = run(greedy(3, List.of("cz"), false), new Scripted(100, 0, 1, 2, 3), new boolean[] {false}, 99);
        assertEquals(StopReason.LENGTH, held.finalReason());
        assertEquals("abc", held.text());
        assertEquals("c", held.pieces().get(held.pieces().size() - 1), "the held-back c arrives in finish");

        StopStrings stops = new StopStrings(List.of("cz"));
        GenerationRequest r = greedy(3, List.of("cz"), false);
        TokenLoop loop = new TokenLoop(SamplingSession.start(r, new int[] {1}, EOS), t -> t == EOS, t -> TEXT[t], stops,
                () -> false);
        Scripted main = new Scripted(100, 0, 1, 2, 3);
        TokenLoop.Outcome o = loop.run(r, (id, text) -> true, main, main.first(), null, null);
        assertEquals(StopReason.STOP_STRING, loop.finish(o, () -> "z", (id, text) -> true),
                "the detokenizer's last text completes the stop string");
        assertEquals("ab", stops.text());
    }

    @Test
    void aFailingSequenceLeavesTheCountSoFar() {
        GenerationRequest r = greedy(10, List.of(), false);
        TokenLoop loop = new TokenLoop(SamplingSession.start(r, new int[] {1}, EOS), t -> t == EOS, t -> TEXT[t],
                new StopStrings(List.of()), () -> false);
        Scripted main = new Scripted(100, 0, 1, 2, 3, 4);
        main.failAt = new IOException("native failure");
        assertThrows(IOException.class, () -> loop.run(r, (id, text) -> true, main, main.first(), null, null));
        assertEquals(3, loop.generated());
        assertEquals(2, loop.lastToken());
    }

    @Test
    void guidanceMixesTheNegativeSequencesLogits() throws IOException {
        // Main prefers token 0 slightly, the negative prompt prefers it strongly: CFG moves away from it.
        Map<String, Object> cfg = Map.of(Sampling.DO_SAMPLE, false, Sampling.GUIDANCE_SCALE, 3.0);
        GenerationRequest r = new GenerationRequest("p", 1, cfg, List.of(), true, false, "n");
        float[] main = new float[VOCAB];
        main[0] = 2;
        main[1] = 1.9f;
        float[] uncond = new float[VOCAB];
        uncond[0] = 5;
        TokenLoop loop = new TokenLoop(SamplingSession.start(r, new int[] {1}, EOS), t -> t == EOS, t -> TEXT[t],
                new StopStrings(List.of()), () -> false);
        List<Integer> got = new ArrayList<>();
        Scripted seq = new Scripted(100, 0);
        loop.run(r, (id, text) -> got.add(id), seq, main, seq, uncond);
        assertEquals(List.of(1), got);
    }
}
