package io.loadstone.evaluation.perplexity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.api.runtime.ModelManager;
import io.loadstone.evaluation.PerplexityMethod;

/** The shell commands parse their flags and tell datasets from text, on the real service and a bigram model. */
class EvaluationCommandsTest {

    @TempDir
    Path home;

    @Test
    void flagsDatasetsTextAndTheLog() throws Exception {
        BigramModel model = new BigramModel(16);
        ModelManager manager = (ModelManager) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ModelManager.class }, (p, m, a) -> m.getName().equals("loras") ? java.util.List.of() : model);
        PerplexityService service = new PerplexityService(manager, home, "datasets", "logs");
        Files.createDirectories(service.datasetsDir());
        Files.writeString(service.datasetsDir().resolve("tiny.txt"), "abcc");
        EvaluationCommands shell = new EvaluationCommands(service);

        String out = shell.perplexity("-s", "3", "-l", "4", "-c", "a, b", "tiny");
        assertTrue(out.contains("tiny.txt  windows stride=3 max_length=4  perplexity " + String.format(
                java.util.Locale.ROOT, "%.4f", Math.sqrt(12))), out);
        assertTrue(shell.perplexity("-s", "3", "-l", "4", "tiny.txt").contains("from the log"));
        assertTrue(shell.perplexity("-f", "-s", "3", "-l", "4", "tiny.txt").contains("2 windows"));
        assertTrue(shell.perplexity("abcc").contains("pasted:"), "words are text");
        assertTrue(shell.perplexity("ab", "cc").contains("pasted:"));
        assertTrue(shell.perplexity("--method", "chunks", "-l", "2", "abcabc").contains("scores nothing"));
        assertTrue(shell.perplexity("--method", "chunks", "-l", "3", "abcabc").contains("chunks"));
        assertTrue(shell.perplexity("../secret.txt").contains("not a dataset file name"));
        assertTrue(shell.perplexity("missing.txt").contains("There is no dataset 'missing.txt'"));
        assertTrue(shell.perplexity("-s", "x", "tiny").startsWith("Not a number"));
        assertTrue(shell.perplexity("--method", "best", "tiny").contains("Unknown method"));
        assertTrue(shell.perplexity("-q", "1", "tiny").startsWith("Unknown flag -q"));
        assertTrue(shell.perplexity().contains("Datasets in " + service.datasetsDir() + ": tiny.txt"));

        String log = shell.evaluations();
        assertEquals(5, log.lines().filter(l -> l.startsWith("bigram")).count(), log);
        assertTrue(log.contains("# a, b"), log);
        assertEquals(PerplexityMethod.CHUNKS, service.history().get(4).method());
    }

    @Test
    void severalModelsRunInTurnAndAMissingOneIsReportedAndPassedOver() throws Exception {
        BigramModel model = new BigramModel(16);
        ModelManager manager = (ModelManager) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ModelManager.class }, (p, m, a) -> switch (m.getName()) {
                    case "loaded" -> "bigram".equals(a[0]) ? java.util.Optional.of(new io.loadstone.api.runtime
                            .LoadedModelState("bigram", null, java.time.Instant.now(), java.time.Instant.now(), 0))
                            : java.util.Optional.empty();
                    case "settings" -> throw new io.loadstone.api.loader.ModelLoadException("There is no model named '"
                            + a[0] + "' in models.", "Available: bigram.");
                    case "loras" -> java.util.List.of();
                    default -> model;
                });
        PerplexityService service = new PerplexityService(manager, home, "datasets", "logs");
        Files.createDirectories(service.datasetsDir());
        Files.writeString(service.datasetsDir().resolve("tiny.txt"), "abcc");
        EvaluationCommands shell = new EvaluationCommands(service);

        String out = shell.perplexity("-m", "bigram, nope,bigram", "-s", "3", "-l", "4", "tiny");
        assertTrue(out.contains("Failed: nope: There is no model named 'nope' in models. Available: bigram. — moving on."),
                out);
        assertEquals(2, out.lines().filter(l -> l.startsWith("bigram")).count(), out);
        assertTrue(out.contains("from the log"), "the second bigram is the first one's result: " + out);
        assertTrue(shell.perplexity("-m", " , ", "tiny").startsWith("No model named after -m."));
    }
}
