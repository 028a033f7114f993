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
import io.loadstone.evaluation.EvaluationProgress;
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

    /** Names loaded now ("bigram" and "echo" unless a test unloads them). */
    final java.util.Set<String> loadedNames = new java.util.HashSet<>(List.of("bigram", "echo"));
    /** Loads asked for: "model loader options". */
    final List<String> loads = new ArrayList<>();
    /** Loader of the "bigram" model's settings, and whether a load fails. */
    String bigramLoader = "Fake";
    ModelLoadException loadFailure;

    /**
     * A ModelManager with the loaded bigram model's logits, a loader without logits ("echo"), and
     * settings/load for "bigram" when it is not loaded ("nope" is no model at all).
     */
    /** What ModelManager.loras(model) answers: the adapters "applied" to the loaded model. */
    private List<io.loadstone.api.loader.LoraAdapter> applied = List.of();

    private ModelManager manager() {
        return (ModelManager) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {
                ModelManager.class }, (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "logits" -> {
                            if ("echo".equals(args[0])) {
                                throw new ModelLoadException("The Echo loader exposes no logits.", "Use Transformers.");
                            }
                            return model;
                        }
                        case "loaded" -> {
                            return loadedNames.contains((String) args[0]) ? java.util.Optional.of(
                                    new io.loadstone.api.runtime.LoadedModelState((String) args[0], null,
                                            java.time.Instant.now(), java.time.Instant.now(), 0))
                                    : java.util.Optional.empty();
                        }
                        case "settings" -> {
                            if (!"bigram".equals(args[0])) {
                                throw new ModelLoadException("There is no model named '" + args[0] + "' in models.",
                                        "Available: bigram.");
                            }
                            return new io.loadstone.api.runtime.ModelSettings("bigram", bigramLoader,
                                    java.util.Map.of("n_ctx", 0L, "b", "x,y"), null, List.of());
                        }
                        case "loras" -> {
                            return applied;
                        }
                        case "loaders" -> {
                            return List.of(loader("Fake", true), loader("Echo", false));
                        }
                        case "load" -> {
                            loads.add(args[0] + " " + args[1] + " " + new java.util.TreeMap<>((java.util.Map<?, ?>) args[2]));
                            if (loadFailure != null) {
                                throw loadFailure;
                            }
                            loadedNames.add((String) args[0]);
                            return null;
                        }
                        default -> throw new UnsupportedOperationException(method.getName());
                    }
                });
    }

    private static io.loadstone.api.runtime.LoaderInfo loader(String id, boolean logits) {
        return new io.loadstone.api.runtime.LoaderInfo(id, "", "", "", new io.loadstone.api.loader.Capabilities(
                io.loadstone.api.loader.Capabilities.LoraSupport.NONE, false, logits, java.util.Set.of()), List.of());
    }

    private EvaluationResult text(String text, int stride, int maxLength, PerplexityMethod method)
            throws ModelLoadException {
        return service.evaluate(new EvaluationRequest(null, null, text, stride, maxLength, method, true, ""), null);
    }

    @Test
    void appliedLorasArePartOfTheLoggedOptionsSoABaseRowNeverAnswersForThem() throws Exception {
        EvaluationRequest r = new EvaluationRequest(null, null, "abcabc", 512, 0, PerplexityMethod.WINDOWS, false, "");
        EvaluationResult base = service.evaluate(r, null);
        assertFalse(base.options().contains("loras="), base.options());
        applied = List.of(new io.loadstone.api.loader.LoraAdapter("r8", java.nio.file.Path.of("loras/r8"), 1.0),
                new io.loadstone.api.loader.LoraAdapter("qv", java.nio.file.Path.of("loras/qv"), 0.5));
        EvaluationResult withLoras = service.evaluate(r, null);
        assertFalse(withLoras.fromLog(), "the base row must not answer for a model with adapters");
        assertTrue(withLoras.options().contains("loras=r8@1.0+qv@0.5"), withLoras.options());
        assertTrue(service.evaluate(r, null).fromLog(), "the same adapters again: from the log");
        applied = List.of();
        assertTrue(service.evaluate(r, null).fromLog(), "and the base row still answers for the base");
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

    @Test
    void aModelThatIsNotLoadedIsLoadedWithItsSettingsAndTheLogIsReadBeforeLoadingNextTime() throws Exception {
        loadedNames.remove("bigram");
        List<String> phases = new ArrayList<>();
        EvaluationProgress progress = new EvaluationProgress() {
            @Override
            public boolean progress(int done, int total) {
                phases.add(done + "/" + total);
                return true;
            }

            @Override
            public boolean loading(String m, String loader) {
                phases.add("loading " + m + " with " + loader);
                return true;
            }
        };
        EvaluationRequest req = new EvaluationRequest("bigram", null, "abcc", 512, 0, null, false, "");
        EvaluationResult first = service.evaluate(req, progress);
        assertFalse(first.fromLog());
        assertEquals(List.of("bigram Fake {b=x,y, n_ctx=0}"), loads, "loaded with the settings' loader and options");
        assertEquals(List.of("loading bigram with Fake", "0/1", "1/1"), phases);
        // The effective options differ from the settings (n_ctx 0 became 16): remembered beside the log.
        assertEquals("b=x,y, n_ctx=16", first.options());

        loadedNames.remove("bigram"); // evicted meanwhile
        phases.clear();
        EvaluationResult again = service.evaluate(req, progress);
        assertTrue(again.fromLog());
        assertEquals(first.perplexity(), again.perplexity(), 0.0);
        assertEquals(1, loads.size(), "answered from the log without loading");
        assertEquals(List.of(), phases);

        // Other settings: not known, so loaded (and then evaluated, a new combination for the log).
        EvaluationRequest other = new EvaluationRequest("bigram", null, "abcc", 256, 0, null, false, "");
        loadedNames.remove("bigram");
        assertFalse(service.evaluate(other, null).fromLog());
        assertEquals(2, loads.size());
        // Forced: loads even though the log has it.
        loadedNames.remove("bigram");
        assertFalse(service.evaluate(new EvaluationRequest("bigram", null, "abcc", 512, 0, null, true, ""), null)
                .fromLog());
        assertEquals(3, loads.size());
    }

    @Test
    void notAModelALoaderWithoutLogitsALoadFailureAndACancelBeforeLoadingAreClearErrors() throws Exception {
        loadedNames.remove("bigram");
        assertMessage("There is no model named 'nope'", () -> service.evaluate(new EvaluationRequest("nope", null,
                "abcc", 512, 0, null, false, ""), null));
        bigramLoader = "Echo";
        assertMessage("The Echo loader (the one 'bigram' would be loaded with) exposes no logits", () -> service
                .evaluate(new EvaluationRequest("bigram", null, "abcc", 512, 0, null, false, ""), null));
        bigramLoader = "Fake";
        loadFailure = new ModelLoadException("out of memory loading bigram", "Use a smaller n_ctx.");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> service.evaluate(new EvaluationRequest(
                "bigram", null, "abcc", 512, 0, null, false, ""), null));
        assertEquals("out of memory loading bigram", e.getMessage());
        assertEquals("Use a smaller n_ctx.", e.fix());
        loadFailure = null;
        assertMessage("cancelled before loading 'bigram'", () -> service.evaluate(new EvaluationRequest("bigram",
                null, "abcc", 512, 0, null, false, ""), new EvaluationProgress() {
                    @Override
                    public boolean progress(int done, int total) {
                        return true;
                    }

                    @Override
                    public boolean loading(String m, String loader) {
                        return false;
                    }
                }));
        assertEquals(1, loads.size(), "only the failing load: neither the echo-loader one nor the cancelled one");
        assertTrue(model.calls.isEmpty());
        assertFalse(Files.exists(service.logFile()));
    }

    private static void assertMessage(String part, org.junit.jupiter.api.function.Executable call) {
        ModelLoadException e = assertThrows(ModelLoadException.class, call);
        assertTrue(e.getMessage().contains(part), "expected '" + part + "' in: " + e.getMessage());
    }
}
