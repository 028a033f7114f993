package io.loadstone.evaluation.perplexity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.evaluation.EvaluationRequest;
import io.loadstone.evaluation.EvaluationResult;
import io.loadstone.evaluation.PerplexityMethod;

/** Both methods on a bigram model whose every NLL is ln 2 or ln 6, so each result is known exactly. */
class PerplexityServiceTest {

    private static final double S = BigramModel.SUCC;
    private static final double O = BigramModel.OTHER;

    @TempDir
    Path home;
    BigramModel model;
    PerplexityService service;

    @BeforeEach
    void setUp() {
        model = new BigramModel(16);
        service = new PerplexityService(manager(), home, "training/datasets", "logs");
    }

    /** A ModelManager that only knows logits(): the loaded bigram model, or a loader without logits. */
    private ModelManager manager() {
        return (ModelManager) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {
                ModelManager.class }, (proxy, method, args) -> {
                    if (method.getName().equals("logits")) {
                        if ("echo".equals(args[0])) {
                            throw new ModelLoadException("The Echo loader exposes no logits.", "Use Transformers.");
                        }
                        return model;
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }

    private EvaluationResult text(String text, int stride, int maxLength, PerplexityMethod method)
            throws ModelLoadException {
        return service.evaluate(new EvaluationRequest(null, null, text, stride, maxLength, method, true, ""), null);
    }

    @Test
    void oneWindowIsTheMeanNllOfEveryTokenButTheFirst() throws Exception {
        // "abcc" -> BOS a b c c: BOS->a, a->b, b->c are successors (ln 2), c->c is not (ln 6).
        EvaluationResult r = text("abcc", 512, 0, PerplexityMethod.WINDOWS);
        assertEquals(Math.exp((3 * S + O) / 4), r.perplexity(), 1e-6);
        assertEquals(Math.pow(48, 0.25), r.perplexity(), 1e-6);
        assertEquals(5, r.tokens());
        assertEquals(1, r.windows());
        assertEquals(4, r.scoredTokens());
        assertEquals(16, r.maxLength()); // 0 = the load's context length
        assertEquals(1, model.calls.size());
    }

    @Test
    void windowsAreAveragedLikeWebuiNotTokens() throws Exception {
        // max_length 4, stride 3: [0,4) scores BOS->a, a->b, b->c (mean ln 2); [3,5) scores c->c (ln 6).
        EvaluationResult r = text("abcc", 3, 4, PerplexityMethod.WINDOWS);
        assertEquals(Math.exp((S + O) / 2), r.perplexity(), 1e-6); // sqrt(12), not 48^(1/4)
        assertEquals(2, r.windows());
        assertEquals(4, r.scoredTokens());
    }

    @Test
    void strideAboveMaxLengthLeavesTokensOut() throws Exception {
        // max_length 2, stride 3: [0,2) scores BOS->a (ln 2); [3,5) scores c->c (ln 6); a->b, b->c skipped.
        EvaluationResult r = text("abcc", 3, 2, PerplexityMethod.WINDOWS);
        assertEquals(Math.exp((S + O) / 2), r.perplexity(), 1e-6);
        assertEquals(2, r.scoredTokens());
        assertArrayEquals(new int[] {3, 3}, model.calls.get(1));
    }

    @Test
    void strideOne() throws Exception {
        // max_length 3, stride 1: [0,3) BOS->a, a->b (ln 2); [1,4) b->c (ln 2); [2,5) c->c (ln 6).
        EvaluationResult r = text("abcc", 1, 3, PerplexityMethod.WINDOWS);
        assertEquals(Math.exp((S + S + O) / 3), r.perplexity(), 1e-6); // 24^(1/3)
        assertEquals(3, r.windows());
    }

    @Test
    void oneTokenTailWindowIsLeftOutOfTheMeanInsteadOfMakingItNaN() throws Exception {
        EvaluationResult r = text("abcc", 4, 4, PerplexityMethod.WINDOWS);
        assertEquals(Math.exp(S), r.perplexity(), 1e-6); // the window [4,5) predicts nothing
        assertEquals(2, r.windows());
        assertEquals(1, model.calls.size());
    }

    @Test
    void chunksScoreTheSecondHalfOfEachChunkStartingWithBos() throws Exception {
        // BOS a b c a b c c a = 9 tokens, n_ctx 4: chunks [0,4) and [4,8) (the 9th dropped),
        // first = 2, one scored each: b->c (ln 2) and, in [BOS b c c], c->c (ln 6).
        EvaluationResult r = text("abcabcca", 7, 4, PerplexityMethod.CHUNKS);
        assertEquals(Math.exp((S + O) / 2), r.perplexity(), 1e-6);
        assertEquals(2, r.windows());
        assertEquals(2, r.scoredTokens());
        assertEquals(4, r.stride()); // chunks follow each other: stride = max_length
        assertArrayEquals(new int[] {0, 2, 3, 3}, model.calls.get(1)); // first token replaced by BOS
        // total NLL / tokens over unequal windows: n_ctx 6, first 3, two scored per chunk.
        model.calls.clear();
        EvaluationResult r6 = text("abcabcabcabc", 1, 6, PerplexityMethod.CHUNKS);
        assertEquals(Math.exp(S), r6.perplexity(), 1e-6);
        assertEquals(4, r6.scoredTokens());
    }

    @Test
    void chunksNeedTwoChunksOfTextAsLlamaCpp() {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> text("abcab", 1, 4,
                PerplexityMethod.CHUNKS));
        assertTrue(e.getMessage().contains("at least 2 x max_length = 8"), e.getMessage());
    }

    @Test
    void badRequestsAreRefusedClearly() {
        assertMessage("stride must be at least 1", () -> text("abc", 0, 0, PerplexityMethod.WINDOWS));
        assertMessage("max_length must be 0", () -> text("abc", 1, -1, PerplexityMethod.WINDOWS));
        assertMessage("more than the context length 16", () -> text("abc", 1, 17, PerplexityMethod.WINDOWS));
        assertMessage("at least 2", () -> text("abc", 1, 1, PerplexityMethod.WINDOWS));
        assertMessage("Neither a dataset nor a text", () -> service.evaluate(new EvaluationRequest(null, " ", "",
                1, 0, null, false, null), null));
        assertMessage("Both a dataset and a text", () -> service.evaluate(new EvaluationRequest(null, "a.txt",
                "abc", 1, 0, null, false, null), null));
        assertMessage("exposes no logits", () -> service.evaluate(new EvaluationRequest("echo", null, "abc", 1, 0,
                null, false, null), null));
        assertFalse(Files.exists(service.logFile()), "nothing logged");
    }

    @Test
    void cancelAndUnloadLogNothing() throws Exception {
        List<String> seen = new ArrayList<>();
        assertMessage("cancelled after 1 of 3", () -> service.evaluate(new EvaluationRequest(null, null, "abcc", 1,
                3, null, true, ""), (done, total) -> {
                    seen.add(done + "/" + total);
                    return done < 1;
                }));
        assertEquals(List.of("0/3", "1/3"), seen);
        model.unloadAfter = 1;
        assertMessage("was unloaded", () -> text("abcc", 1, 3, PerplexityMethod.WINDOWS));
        assertFalse(Files.exists(service.logFile()));
    }

    @Test
    void resultsAreLoggedAndReusedUnlessForced() throws Exception {
        String nasty = "a, \"quoted\" comment\nwith a newline,\r\nand a trailing space ";
        EvaluationRequest req = new EvaluationRequest("", null, "abcc", 512, 0, null, false, nasty);
        EvaluationResult first = service.evaluate(req, null);
        assertFalse(first.fromLog());
        assertTrue(first.dataset().matches("pasted:[0-9a-f]{12}"), first.dataset());
        assertEquals("b=x,y, n_ctx=16", first.options());

        EvaluationResult again = service.evaluate(req, null);
        assertTrue(again.fromLog());
        assertEquals(first.perplexity(), again.perplexity(), 0.0);
        assertEquals(1, model.calls.size(), "not evaluated again");

        service.evaluate(new EvaluationRequest(null, null, "abcc", 512, 0, null, true, "forced"), null);
        assertEquals(2, model.calls.size());
        service.evaluate(new EvaluationRequest(null, null, "abcc", 256, 0, null, false, ""), null);
        assertEquals(3, model.calls.size(), "another stride is another combination");

        List<EvaluationResult> log = service.history();
        assertEquals(3, log.size());
        EvaluationResult back = log.get(0);
        assertEquals(nasty, back.comment());
        assertEquals(first.perplexity(), back.perplexity(), 0.0);
        assertEquals(first.date(), back.date());
        assertEquals(first.options(), back.options());
        assertEquals(first.dataset(), back.dataset());
        assertEquals(PerplexityMethod.WINDOWS, back.method());
        assertEquals(16, back.maxLength());
        assertEquals(5, back.tokens());
        assertEquals("forced", log.get(1).comment());
        String text = Files.readString(service.logFile());
        assertTrue(text.startsWith("Model,Loader,Options,Dataset,Method,Stride,max_length,Perplexity,Tokens,Date,"
                + "Comment\r\n"), text);
    }

    @Test
    void aLogWithOtherColumnsIsKeptAsideNotMixed() throws Exception {
        Files.createDirectories(service.logFile().getParent());
        Files.writeString(service.logFile(), "Model,LoRAs,Dataset,Perplexity,stride,max_length,Date,Comment\n"
                + "llama-7b,,wikitext,5.68,512,0,2023-11-01 10:00:00,\n");
        assertEquals(5.68, service.history().get(0).perplexity(), 0.0); // webui's own file is readable
        text("abcc", 512, 0, PerplexityMethod.WINDOWS);
        assertEquals(1, service.history().size());
        try (var s = Files.list(service.logFile().getParent())) {
            assertEquals(1, s.filter(p -> p.getFileName().toString().endsWith(".bak")).count());
        }
    }

    @Test
    void datasetsAreFilesInTheFolderOnly() throws Exception {
        Path dir = service.datasetsDir();
        assertEquals(home.resolve("training/datasets"), dir);
        assertEquals(List.of(), service.datasets());
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("tiny.txt"), "abcc");
        Files.writeString(dir.resolve("notes.md"), "abcc");
        Files.writeString(home.resolve("secret.txt"), "abcc");
        Files.createSymbolicLink(dir.resolve("link.txt"), home.resolve("secret.txt"));
        assertEquals(List.of("link.txt", "tiny.txt"), service.datasets());

        EvaluationResult r = service.evaluate(new EvaluationRequest(null, "tiny", null, 512, 0, null, false, ""),
                null);
        assertEquals("tiny.txt", r.dataset());
        assertEquals(Math.pow(48, 0.25), r.perplexity(), 1e-6);

        for (String bad : List.of("../secret.txt", "../../etc/passwd", "/etc/passwd", "sub/tiny.txt",
                "..\\secret.txt", ".hidden.txt", "..", "C:secret.txt", "tiny.txt\0")) {
            assertMessage("not a dataset file name", () -> service.evaluate(new EvaluationRequest(null, bad, null,
                    512, 0, null, false, ""), null));
        }
        assertMessage("links outside", () -> service.evaluate(new EvaluationRequest(null, "link.txt", null, 512, 0,
                null, false, ""), null));
        assertMessage("There is no dataset 'missing.txt'", () -> service.evaluate(new EvaluationRequest(null,
                "missing", null, 512, 0, null, false, ""), null));
        assertMessage("There is no dataset 'notes.md.txt'", () -> service.evaluate(new EvaluationRequest(null,
                "notes.md", null, 512, 0, null, false, ""), null));
    }

    private static void assertMessage(String part, org.junit.jupiter.api.function.Executable call) {
        ModelLoadException e = assertThrows(ModelLoadException.class, call);
        assertTrue(e.getMessage().contains(part), "expected '" + part + "' in: " + e.getMessage());
    }
}
