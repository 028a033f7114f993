package io.loadstone.llamacpp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import com.google.gson.JsonObject;

/**
 * The b4916 binding against stories260K and the reference data computed with transformers
 * (subclasses: the same with a runner process, and with llama.cpp v0.5.0).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NativeModelTest {

    private static final System.Logger LOG = System.getLogger(NativeModelTest.class.getName());

    private AutoCloseable library;
    LlamaRuntime runtime;
    private JsonObject ref;

    @BeforeAll
    void load() throws Exception {
        library = start();
        ref = TestFiles.reference("stories260K-lora-r8");
    }

    @AfterAll
    void unload() throws Exception {
        if (library != null) {
            library.close();
        }
    }

    /** The build under test. */
    String build() {
        return TestFiles.B4916;
    }

    /** Its library. */
    Path library() {
        return TestFiles.library();
    }

    /** Sets {@link #runtime} and returns what closes it; here the binding in this process. */
    AutoCloseable start() throws Exception {
        LlamaLibrary lib = LlamaLibrary.load(library(), build());
        runtime = lib.runtime();
        return lib;
    }

    private NativeModel open(ContextParams c) throws LlamaException {
        return runtime.open(TestFiles.stories(), ModelParams.defaults(), c);
    }

    private static ContextParams exact() {
        return ContextParams.defaults().withContext(256).withThreads(1, 1).withCache(CacheType.F32, CacheType.F32);
    }

    @Test
    void runtimeDescribesItself() {
        assertEquals(build(), runtime.buildName());
        assertTrue(runtime.supportsMmap());
        assertTrue(runtime.maxDevices() >= 1);
        assertTrue(runtime.systemInfo().contains("CPU"), runtime.systemInfo());
    }

    @Test
    void tokenizationMatchesTheHuggingFaceTokenizer() throws Exception {
        try (NativeModel m = open(exact())) {
            assertArrayEquals(TestFiles.ints(ref, "input_ids"), m.tokenize(ref.get("prompt").getAsString(), true,
                    false));
            assertEquals(1, m.bos());
            assertEquals(2, m.eos());
            assertTrue(m.isEog(2));
            assertFalse(m.isEog(403));
            assertTrue(m.addsBos());
            assertEquals(512, m.nVocab());
            int[] noBos = m.tokenize("Once upon a time", false, false);
            assertArrayEquals(Arrays.copyOfRange(TestFiles.ints(ref, "input_ids"), 1, 5), noBos);
            // SentencePiece's "prefix space" is removed again when the text starts the sequence.
            assertEquals("Once upon a time", m.detokenize(noBos, true, false));
            assertEquals("<s> Once upon a time", m.detokenize(m.tokenize("Once upon a time", true, false), false,
                    true));
            assertArrayEquals(new int[] {1, 403}, m.tokenize("<s>Once", false, true), "special text parsed");
        }
    }

    @Test
    void lastLogitsMatchTheReferenceWithAnF32Cache() throws Exception {
        float[] expected = TestFiles.floats(ref, "base_last_logits");
        try (NativeModel m = open(exact())) {
            m.decode(TestFiles.ints(ref, "input_ids"), 0);
            float[] got = m.lastLogits();
            double diff = TestFiles.maxAbsDiff(expected, got);
            LOG.log(System.Logger.Level.INFO, "max |logit - reference| (F32 KV cache) = " + diff);
            assertTrue(diff < 1e-4, "max abs diff " + diff);
        }
    }

    @Test
    void greedyContinuationMatchesTheReference() throws Exception {
        int[] expected = TestFiles.ints(ref, "base_greedy_ids");
        try (NativeModel m = open(ContextParams.defaults().withContext(256));
                TokenSampler s = m.newSampler(SamplerParams.greedyDecoding())) {
            int[] prompt = m.tokenize("Once upon a time", true, false);
            m.decode(prompt, 0);
            int[] got = new int[expected.length];
            ByteArrayOutputStream text = new ByteArrayOutputStream();
            for (int i = 0; i < got.length; i++) {
                got[i] = s.sample();
                text.writeBytes(m.tokenToPiece(got[i]));
                m.decode(new int[] {got[i]}, prompt.length + i);
            }
            assertArrayEquals(expected, got);
            assertEquals(ref.get("base_greedy_text").getAsString(), text.toString(StandardCharsets.UTF_8));
            assertEquals(", there was a little girl named Lily. She loved to play outside in the park. One day,",
                    text.toString(StandardCharsets.UTF_8));
        }
    }

    @Test
    void everyPositionAgreesWithTokenByTokenDecoding() throws Exception {
        int[] seq = TestFiles.ints(ref, "base_greedy_ids");
        try (NativeModel m = open(exact().withBatch(7))) {
            float[][] all = m.decodeAll(seq, 0);
            assertEquals(seq.length, all.length);
            m.clearKvCache();
            double worst = 0;
            for (int i = 0; i < seq.length; i++) {
                m.decode(new int[] {seq[i]}, i);
                worst = Math.max(worst, TestFiles.maxAbsDiff(all[i], m.lastLogits()));
            }
            LOG.log(System.Logger.Level.INFO, "max |batched - incremental| over " + seq.length + " positions = "
                    + worst);
            assertTrue(worst < 1e-4, "batched vs incremental logits differ by " + worst);
        }
    }

    @Test
    void promptsLongerThanTheBatchAreChunked() throws Exception {
        int[] prompt = TestFiles.ints(ref, "input_ids");
        float[] whole;
        try (NativeModel m = open(exact())) {
            m.decode(prompt, 0);
            whole = m.lastLogits();
        }
        try (NativeModel m = open(exact().withBatch(2))) {
            assertEquals(2, m.nBatch(), "chunk size as asked, although llama.cpp's own n_batch is at least 64");
            m.decode(prompt, 0);
            assertTrue(TestFiles.maxAbsDiff(whole, m.lastLogits()) < 1e-5);
        }
    }

    @Test
    void aFullContextIsRefusedBeforeNativeCode() throws Exception {
        try (NativeModel m = open(ContextParams.defaults().withContext(32))) {
            int n = m.nCtx();
            int[] tokens = new int[n + 1];
            Arrays.fill(tokens, 403);
            ContextFullException e = assertThrows(ContextFullException.class, () -> m.decode(tokens, 0));
            assertTrue(e.getMessage().contains(String.valueOf(n)), e.getMessage());
            int[] fits = Arrays.copyOf(tokens, n);
            m.decode(fits, 0);
            assertThrows(ContextFullException.class, () -> m.decode(new int[] {403}, n));
            m.removeFromKvCache(n - 1, -1);
            m.decode(new int[] {403}, n - 1);
            assertThrows(LlamaException.class, () -> m.decode(new int[] {512}, 0), "token outside the vocabulary");
        }
    }

    @Test
    void metadataAndFacts() throws Exception {
        try (NativeModel m = open(ContextParams.defaults().withContext(64))) {
            assertEquals("llama", m.metadata("general.architecture").orElseThrow());
            assertTrue(m.metadata("no.such.key").isEmpty());
            assertTrue(m.metadata().containsKey("llama.block_count"), m.metadata().toString());
            assertEquals(Integer.parseInt(m.metadata("llama.context_length").orElseThrow()), m.nCtxTrain());
            assertTrue(m.nCtx() >= 64);
            assertTrue(m.parameterCount() > 200_000 && m.parameterCount() < 400_000, "" + m.parameterCount());
            assertTrue(m.description().startsWith("llama"), m.description());
            assertTrue(m.sizeBytes() > 0);
            // llama.cpp's notes about this healthy vocabulary ("bad special token ... = 4294967295",
            // "special_eos_id is not in special_eog_ids") are log lines, not things to tell users.
            assertTrue(m.loadWarnings().stream().noneMatch(w -> w.contains("special token") || w.contains(
                    "special_eog_ids")), m.loadWarnings().toString());
        }
    }

    @Test
    void seededSamplingIsReproducible() throws Exception {
        try (NativeModel m = open(ContextParams.defaults().withContext(128))) {
            int[] a = sample(m, SamplerParams.random(42));
            int[] b = sample(m, SamplerParams.random(42));
            int[] c = sample(m, SamplerParams.random(7));
            assertArrayEquals(a, b);
            assertFalse(Arrays.equals(a, c), "different seeds gave the same 20 tokens");
            SamplerParams all = new SamplerParams(false, 3, 0.8f, 40, 0.95f, 0.05f, 0.9f, 64, 1.1f, 0.1f, 0.1f, 0, 5f,
                    0.1f, java.util.List.of());
            assertArrayEquals(sample(m, all), sample(m, all));
            SamplerParams miro = new SamplerParams(false, 5, 1f, 0, 1f, 0f, 1f, 0, 1f, 0f, 0f, 2, 5f, 0.1f,
                    java.util.List.of());
            assertArrayEquals(sample(m, miro), sample(m, miro));
        }
    }

    private static int[] sample(NativeModel m, SamplerParams p) throws LlamaException {
        m.clearKvCache();
        int[] prompt = m.tokenize("Once upon a time", true, false);
        int[] out = new int[20];
        try (TokenSampler s = m.newSampler(p)) {
            for (int t : prompt) {
                s.accept(t);
            }
            m.decode(prompt, 0);
            for (int i = 0; i < out.length; i++) {
                out[i] = s.sample();
                m.decode(new int[] {out[i]}, prompt.length + i);
            }
        }
        return out;
    }

    @Test
    void penaltiesChangeTheGreedyPath() throws Exception {
        try (NativeModel m = open(ContextParams.defaults().withContext(128))) {
            int[] plain = sample(m, SamplerParams.greedyDecoding());
            // A presence penalty of 1000 forbids every token already seen (prompt included).
            int[] penalised = sample(m, new SamplerParams(true, -1, 1f, 0, 1f, 0f, 1f, -1, 1f, 0f, 1000f, 0, 5f, 0.1f,
                    java.util.List.of()));
            assertNotEquals(Arrays.toString(plain), Arrays.toString(penalised));
            java.util.Set<Integer> seen = new java.util.HashSet<>();
            for (int t : m.tokenize("Once upon a time", true, false)) {
                seen.add(t);
            }
            for (int t : penalised) {
                assertTrue(seen.add(t), "token " + t + " repeated in " + Arrays.toString(penalised));
            }
        }
    }

    @Test
    void bannedTokensAreNeverPicked() throws Exception {
        try (NativeModel m = open(ContextParams.defaults().withContext(128))) {
            int[] plain = sample(m, SamplerParams.greedyDecoding());
            int[] banned = sample(m, SamplerParams.greedyDecoding().withBannedTokens(java.util.List.of(plain[0], 298)));
            assertNotEquals(plain[0], banned[0]);
            for (int t : banned) {
                assertTrue(t != plain[0] && t != 298, Arrays.toString(banned));
            }
            assertThrows(LlamaException.class,
                    () -> m.newSampler(SamplerParams.greedyDecoding().withBannedTokens(java.util.List.of(512))));
        }
    }

    @Test
    void aClosedModelRefusesEveryCall() throws Exception {
        NativeModel m = open(ContextParams.defaults().withContext(64));
        TokenSampler s = m.newSampler(SamplerParams.greedyDecoding());
        m.close();
        m.close();
        assertTrue(m.isClosed());
        assertThrows(ModelClosedException.class, () -> m.tokenize("x", true, false));
        assertThrows(ModelClosedException.class, () -> m.decode(new int[] {1}, 0));
        assertThrows(ModelClosedException.class, s::sample);
        s.close();
    }

    @Test
    void samplingBeforeDecodingIsRefused() throws Exception {
        try (NativeModel m = open(ContextParams.defaults().withContext(64));
                TokenSampler s = m.newSampler(SamplerParams.greedyDecoding())) {
            assertThrows(LlamaException.class, s::sample);
            m.decode(new int[] {1}, 0);
            s.sample();
            m.clearKvCache();
            assertThrows(LlamaException.class, s::sample);
            assertThrows(LlamaException.class, m::lastLogits);
        }
    }

    @Test
    void vocabularyOnlyModelsTokenizeButDoNotEvaluate() throws Exception {
        try (NativeModel m = runtime.open(TestFiles.stories(), ModelParams.defaults().withVocabOnly(true),
                ContextParams.defaults())) {
            assertArrayEquals(TestFiles.ints(ref, "input_ids"), m.tokenize("Once upon a time", true, false));
            assertThrows(LlamaException.class, () -> m.decode(new int[] {1}, 0));
        }
    }

    @Test
    void badFilesGiveClearErrors(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("missing.gguf");
        LlamaException e = assertThrows(LlamaException.class,
                () -> runtime.open(missing, ModelParams.defaults(), ContextParams.defaults()));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());

        Path garbage = dir.resolve("garbage.gguf");
        Files.writeString(garbage, "this is not a GGUF file at all, just text.");
        e = assertThrows(LlamaException.class,
                () -> runtime.open(garbage, ModelParams.defaults(), ContextParams.defaults()));
        assertTrue(e.getMessage().contains(garbage.toString()), e.getMessage());
        LOG.log(System.Logger.Level.INFO, "garbage file: {0}", e.getMessage());
    }

    @Test
    void unknownBuildsAndMissingLibrariesAreRefused(@TempDir Path dir) {
        LlamaException e = assertThrows(LlamaException.class,
                () -> LlamaLibrary.load(TestFiles.library(), "llama.cpp-b9999"));
        assertTrue(e.getMessage().contains("llama.cpp-b9999") && e.getMessage().contains("llama.cpp-b4916"),
                e.getMessage());
        Path notALibrary = dir.resolve("libjllama.so");
        assertThrows(LlamaException.class, () -> LlamaLibrary.load(notALibrary, "llama.cpp-b4916"));
    }
}
