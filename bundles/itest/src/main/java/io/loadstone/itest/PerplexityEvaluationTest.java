package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.ModelManager;
import io.loadstone.evaluation.EvaluationRequest;
import io.loadstone.evaluation.EvaluationResult;
import io.loadstone.evaluation.PerplexityEvaluator;
import io.loadstone.evaluation.PerplexityMethod;

/**
 * Perplexity of the same model in two forms, through the evaluator service: stories260K.gguf
 * on the llama.cpp loader (F32 KV cache), its Hugging Face copy on the Transformers loader
 * (the Java engine), and the GGUF with the Hugging Face tokenizer on llamacpp_HF. Same tokens, same windows, independent forward passes: the two numbers
 * must agree. The text is the sample the evaluation bundle ships (written for Loadstone).
 */
class PerplexityEvaluationTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String GGUF = "stories260K.gguf";
    private static final String HF = "stories260K-hf";
    /** The GGUF with the Hugging Face tokenizer files: the llamacpp_HF loader's kind of folder. */
    private static final String CPP_HF = "stories260K-HF";
    private static final System.Logger LOG = System.getLogger(PerplexityEvaluationTest.class.getName());

    private ModelManager manager;
    private PerplexityEvaluator evaluator;
    private Path models;
    private String dataset;

    @BeforeEach
    void setUp() throws Exception {
        String shared = Framework.context().getProperty("loadstone.shared.models");
        assumeTrue(shared != null && Files.isDirectory(Path.of(shared, HF)), "shared models absent: " + shared);
        Bundle evaluation = Framework.bundle("io.loadstone.evaluation");
        if (evaluation.getState() != Bundle.ACTIVE) {
            evaluation.start(); // another test may have stopped it
        }
        models = Framework.workDir("perplexity-models");
        Path copy = Files.createDirectories(models.resolve(HF));
        try (Stream<Path> files = Files.list(Path.of(shared, HF))) {
            for (Path f : files.toList()) {
                Files.copy(f, copy.resolve(f.getFileName()));
            }
        }
        Files.copy(Framework.testBundle(GGUF), models.resolve(GGUF));
        Path cppHf = Files.createDirectories(models.resolve(CPP_HF));
        Files.copy(Framework.testBundle(GGUF), cppHf.resolve(GGUF));
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")) {
            Files.copy(Path.of(shared, HF, f), cppHf.resolve(f));
        }
        manager = Framework.useModels(models, "max.loaded.models", 1);
        Framework.await("Transformers, llama.cpp and llamacpp_HF loaders", WAIT, () -> manager.loaders().stream()
                .filter(l -> List.of("Transformers", "llama.cpp", "llamacpp_HF").contains(l.id())).count() == 3);
        Framework.await("three models listed", WAIT, () -> manager.models().size() == 3);
        evaluator = Framework.service(PerplexityEvaluator.class, WAIT);

        // The bundled sample, under a name of this run so rows of earlier runs never match.
        dataset = "itest-story-" + System.nanoTime() + ".txt";
        try (InputStream in = evaluation.getEntry("datasets/loadstone-story.txt").openStream()) {
            Files.createDirectories(evaluator.datasetsDir());
            Files.copy(in, evaluator.datasetsDir().resolve(dataset));
        }
    }

    @AfterEach
    void tearDown() throws Exception {
        if (manager != null) {
            manager.loaded().forEach(s -> manager.unload(s.name()));
        }
        if (evaluator != null && dataset != null) {
            Files.deleteIfExists(evaluator.datasetsDir().resolve(dataset));
        }
    }

    private EvaluationResult evaluate(String model, int stride, int maxLength, PerplexityMethod method,
            boolean force) throws ModelLoadException {
        AtomicInteger calls = new AtomicInteger();
        EvaluationResult r = evaluator.evaluate(new EvaluationRequest(model, dataset, null, stride, maxLength, method,
                force, "itest, \"both\" loaders\nsecond line"), (done, total) -> {
                    calls.incrementAndGet();
                    return true;
                });
        if (!r.fromLog()) {
            assertEquals(r.windows() + 1, calls.get(), "progress before the first and after each window");
        }
        return r;
    }

    @Test
    void llamaCppAndTransformersAgreeOnTheSameModel() throws Exception {
        assertTrue(evaluator.datasets().contains(dataset), evaluator.datasets().toString());

        manager.load(GGUF, "llama.cpp", Map.of("n_ctx", 512, "cache_type", "fp32", "threads", 2));
        EvaluationResult cpp = evaluate(null, 128, 256, PerplexityMethod.WINDOWS, true);
        EvaluationResult cppChunks = evaluate(GGUF, 0, 256, PerplexityMethod.CHUNKS, true);
        EvaluationResult again = evaluate(null, 128, 256, PerplexityMethod.WINDOWS, false);
        assertTrue(again.fromLog(), "the same combination comes from the log");
        assertEquals(cpp.perplexity(), again.perplexity(), 0.0);
        manager.unload(GGUF);

        manager.load(HF, "Transformers", Map.of("threads", 2));
        EvaluationResult hf = evaluate(HF, 128, 256, PerplexityMethod.WINDOWS, true);
        EvaluationResult hfChunks = evaluate(null, 0, 256, PerplexityMethod.CHUNKS, true);
        manager.unload(HF);

        // llamacpp_HF: llama.cpp's forward pass with the Hugging Face tokenizer.
        manager.load(CPP_HF, "llamacpp_HF", Map.of("n_ctx", 512, "cache_type", "fp32", "threads", 2));
        EvaluationResult cppHf = evaluate(CPP_HF, 128, 256, PerplexityMethod.WINDOWS, true);
        EvaluationResult cppHfChunks = evaluate(null, 0, 256, PerplexityMethod.CHUNKS, true);
        assertEquals(hf.tokens(), cppHf.tokens());

        assertEquals("llama.cpp", cpp.loader());
        assertEquals("Transformers", hf.loader());
        assertEquals(cpp.tokens(), hf.tokens(), "same tokens from both tokenizers");
        assertEquals(cpp.windows(), hf.windows());
        assertEquals(cpp.scoredTokens(), hf.scoredTokens());
        assertEquals(cpp.tokens() - 1, cpp.scoredTokens(), "windows score every token but the first, once");
        assertEquals(cpp.tokens() / 256 * (256 - 1 - 128), cppChunks.scoredTokens(), "llama.cpp's count");
        double diff = Math.abs(cpp.perplexity() - hf.perplexity());
        double chunkDiff = Math.abs(cppChunks.perplexity() - hfChunks.perplexity());
        double hfDiff = Math.abs(cppHf.perplexity() - hf.perplexity());
        double hfChunkDiff = Math.abs(cppHfChunks.perplexity() - hfChunks.perplexity());
        String report = String.format(java.util.Locale.ROOT, "Perplexity of stories260K on %d tokens (max_length 256, "
                + "stride 128, %d windows): llama.cpp (fp32 cache) %.6f, Transformers (Java engine) %.6f, |diff| %.2e "
                + "(relative %.2e); llama.cpp's chunk method (n_ctx 256, %d chunks, %d scored): %.6f vs %.6f, |diff| "
                + "%.2e; llamacpp_HF %.6f (|diff| to Transformers %.2e), chunks %.6f (%.2e); llama.cpp %.2f s, "
                + "Transformers %.2f s, llamacpp_HF %.2f s", cpp.tokens(), cpp.windows(), cpp.perplexity(),
                hf.perplexity(), diff, diff / hf.perplexity(), cppChunks.windows(), cppChunks.scoredTokens(),
                cppChunks.perplexity(), hfChunks.perplexity(), chunkDiff, cppHf.perplexity(), hfDiff,
                cppHfChunks.perplexity(), hfChunkDiff, cpp.seconds(), hf.seconds(), cppHf.seconds());
        LOG.log(Level.INFO, report);
        System.out.println(report);
        assertTrue(diff / hf.perplexity() < 1e-4, report);
        assertTrue(chunkDiff / hfChunks.perplexity() < 1e-4, report);
        assertTrue(hfDiff / hf.perplexity() < 1e-4, report);
        assertTrue(hfChunkDiff / hfChunks.perplexity() < 1e-4, report);
        assertTrue(cpp.perplexity() > 1 && cpp.perplexity() < 100, "a story model finds a story plausible: " + report);

        List<EvaluationResult> rows = evaluator.history().stream().filter(r -> r.dataset().equals(dataset)).toList();
        assertEquals(6, rows.size(), "six computed rows (the logged one was not written again): " + rows);
        assertEquals(List.of("llama.cpp", "llama.cpp", "Transformers", "Transformers", "llamacpp_HF",
                "llamacpp_HF"), rows.stream()
                .map(EvaluationResult::loader).toList());
        assertEquals(cpp.perplexity(), rows.get(0).perplexity(), 0.0);
        assertEquals("itest, \"both\" loaders\nsecond line", rows.get(0).comment());
        assertTrue(rows.get(0).options().contains("cache_type=fp32"), rows.get(0).options());
        assertEquals(PerplexityMethod.CHUNKS, rows.get(1).method());
        assertEquals(256, rows.get(1).stride());
        assertTrue(Files.readString(evaluator.logFile()).startsWith(
                "Model,Loader,Options,Dataset,Method,Stride,max_length,Perplexity,Tokens,Date,Comment"));
    }

    @Test
    void unloadingDuringAnEvaluationEndsItCleanlyAndLogsNothing() throws Exception {
        manager.load(HF, "Transformers", Map.of("threads", 2));
        Thread[] unloader = new Thread[1];
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> evaluator.evaluate(
                new EvaluationRequest(HF, dataset, null, 1, 128, PerplexityMethod.WINDOWS, true, "unload"),
                (done, total) -> {
                    if (done == 2) {
                        unloader[0] = new Thread(() -> manager.unload(HF));
                        unloader[0].start();
                    }
                    return true;
                }));
        unloader[0].join();
        assertTrue(e.getMessage().contains("unloaded"), e.getMessage());
        assertTrue(manager.loaded().isEmpty());
        assertFalse(evaluator.history().stream().anyMatch(r -> r.dataset().equals(dataset)), "nothing logged");
    }

    @Test
    void aLoaderWithoutLogitsIsRefusedByName() throws Exception {
        Files.createDirectories(models.resolve("echo-story"));
        Files.writeString(models.resolve("echo-story/echo-model.txt"), "the quick brown fox");
        Bundle echo = Framework.startEchoLoader(manager);
        try {
            manager.refresh();
            manager.load("echo-story", "itest-echo", Map.of());
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> evaluate(null, 512, 0,
                    PerplexityMethod.WINDOWS, true));
            assertTrue(e.getMessage().contains("itest-echo") && e.getMessage().contains("no logits"), e
                    .getMessage());
            assertTrue(e.fix().contains("llamacpp_HF") && e.fix().contains("Transformers"), e.fix());
        } finally {
            echo.uninstall();
        }
        ModelLoadException none = assertThrows(ModelLoadException.class, () -> evaluate(null, 512, 0,
                PerplexityMethod.WINDOWS, true));
        assertTrue(none.getMessage().contains("No model is loaded"), none.getMessage());
    }
}
