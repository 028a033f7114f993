package io.loadstone.llamacpp.b4916;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

import io.loadstone.llamacpp.CacheType;
import io.loadstone.llamacpp.ContextFullException;
import io.loadstone.llamacpp.ContextParams;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LoraAdapter;
import io.loadstone.llamacpp.ModelClosedException;
import io.loadstone.llamacpp.ModelParams;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.llamacpp.SamplerParams;
import io.loadstone.llamacpp.SecondaryContext;
import io.loadstone.llamacpp.TokenSampler;

/**
 * A llama_model with one llama_context, and any secondary contexts made on it
 * ({@link #newContext()}). Every native call runs under {@link #lock}; close takes the same
 * lock, so memory is never freed while llama.cpp still uses it. The batch buffers are shared
 * by all contexts: they are only touched under the lock.
 */
// Native access is what this package is for; the JVM must run with --enable-native-access.
@SuppressWarnings("restricted")
final class B4916Model implements NativeModel {

    private static final int META_BUF = 1024;

    private final B4916Library lib;
    private final Abi abi;
    private final Path file;
    private final MemorySegment model;
    private final MemorySegment ctx;
    /** The primary context's logits state. */
    private final Ctx main;
    /** The parameters every context of this model is created with. */
    private final ContextParams contextParams;
    private final MemorySegment vocab;
    private final int nVocab;
    private final int nCtx;
    private final int nBatch;
    private final int bos;
    private final int eos;
    private final boolean addsBos;
    private final List<String> loadWarnings;

    /** Batch buffers and scratch space, reused under {@link #lock}. */
    private final Arena arena = Arena.ofShared();
    private final MemorySegment batch;
    private final MemorySegment batchTokens;
    private final MemorySegment batchPos;
    private final MemorySegment batchLogits;
    private final MemorySegment piece;

    private final ReentrantLock lock = new ReentrantLock();
    private final Set<B4916Sampler> samplers = ConcurrentHashMap.newKeySet();
    private final Set<B4916Lora> adapters = ConcurrentHashMap.newKeySet();
    private final Set<B4916Context> secondaries = ConcurrentHashMap.newKeySet();
    /** Set first by close(), so that callers stop queueing for the lock. */
    private volatile boolean closing;
    private volatile boolean closed;
    /** One llama_context and whether it holds logits of its last decode; fields guarded by {@link #lock}. */
    static final class Ctx {
        final MemorySegment ptr;
        boolean lastLogitsValid;
        /** The LoRA adapters active here, with their scales (v0.5.0 sets them all at once). */
        final Map<B4916Lora, Float> loras = new LinkedHashMap<>();
        volatile boolean freed;

        Ctx(MemorySegment ptr) {
            this.ptr = ptr;
        }
    }

    private B4916Model(B4916Library lib, Path file, MemorySegment model, MemorySegment ctx, ContextParams cp,
            List<String> loadWarnings) {
        int chunk = cp.nBatch();
        this.contextParams = cp;
        this.main = new Ctx(ctx);
        this.lib = lib;
        this.loadWarnings = loadWarnings;
        this.abi = lib.abi();
        this.file = file;
        this.model = model;
        this.ctx = ctx;
        this.vocab = abi.modelGetVocab(model);
        this.nVocab = abi.vocabNTokens(vocab);
        this.nCtx = hasContext() ? abi.nCtx(ctx) : 0;
        // llama.cpp raises n_batch to at least 64 (GGML_KQ_MASK_PAD) and caps it at n_ctx; our
        // chunks are never larger than what the caller asked for nor than what llama.cpp accepts.
        this.nBatch = hasContext() ? Math.max(1, Math.min(chunk, abi.nBatch(ctx))) : 1;
        this.bos = abi.vocabBos(vocab);
        this.eos = abi.vocabEos(vocab);
        this.addsBos = abi.vocabGetAddBos(vocab);
        this.batch = arena.allocate(Abi.BATCH);
        this.batchTokens = arena.allocate(JAVA_INT, nBatch);
        this.batchPos = arena.allocate(JAVA_INT, nBatch);
        this.batchLogits = arena.allocate(JAVA_BYTE, nBatch);
        // Every token belongs to sequence 0: one seq_id array {0} shared by all entries.
        MemorySegment seqZero = arena.allocate(JAVA_INT);
        MemorySegment nSeqId = arena.allocate(JAVA_INT, nBatch);
        MemorySegment seqIds = arena.allocate(ADDRESS, nBatch);
        for (int i = 0; i < nBatch; i++) {
            nSeqId.setAtIndex(JAVA_INT, i, 1);
            seqIds.setAtIndex(ADDRESS, i, seqZero);
        }
        Abi.B_TOKEN.set(batch, batchTokens);
        Abi.B_EMBD.set(batch, MemorySegment.NULL);
        Abi.B_POS.set(batch, batchPos);
        Abi.B_N_SEQ_ID.set(batch, nSeqId);
        Abi.B_SEQ_ID.set(batch, seqIds);
        Abi.B_LOGITS.set(batch, batchLogits);
        this.piece = arena.allocate(256);
    }

    static B4916Model open(B4916Library lib, Path gguf, ModelParams mp, ContextParams cp) throws LlamaException {
        Path file = gguf.toAbsolutePath().normalize();
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
            throw new LlamaException("Model file " + file + " does not exist or cannot be read.");
        }
        Abi abi = lib.abi();
        LogBridge log = lib.log();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment split = MemorySegment.NULL;
            if (!mp.tensorSplit().isEmpty()) {
                int max = (int) abi.maxDevices();
                if (mp.tensorSplit().size() > max) {
                    throw new LlamaException("tensor_split names " + mp.tensorSplit().size()
                            + " devices but this llama.cpp build supports at most " + max + ".");
                }
                // llama.cpp reads llama_max_devices() floats from this pointer.
                split = tmp.allocate(JAVA_FLOAT, max);
                for (int i = 0; i < mp.tensorSplit().size(); i++) {
                    split.setAtIndex(JAVA_FLOAT, i, mp.tensorSplit().get(i).floatValue());
                }
            }
            MemorySegment mparams = abi.modelParams(tmp, mp.gpuLayers() < 0 ? Integer.MAX_VALUE : mp.gpuLayers(),
                    mp.mainGpu(), mp.useMmap(), mp.useMlock(), mp.vocabOnly(), mp.checkTensors(), split);
            log.clearProblems();
            MemorySegment model = abi.modelLoadFromFile(tmp.allocateFrom(file.toString()), mparams);
            if (model.address() == 0) {
                throw new LlamaException("llama.cpp could not load the model " + file + reason(log.takeProblems()));
            }
            MemorySegment ctx = MemorySegment.NULL;
            if (!mp.vocabOnly()) {
                ctx = abi.initFromModel(model, contextParams(abi, tmp, cp));
                if (ctx.address() == 0) {
                    String why = log.takeProblems();
                    abi.modelFree(model);
                    throw new LlamaException("llama.cpp loaded " + file + " but could not create its context (n_ctx="
                            + cp.nCtx() + ", n_batch=" + cp.nBatch() + ", cache " + cp.typeK() + "/" + cp.typeV()
                            + ")" + reason(why) + " Try a smaller n_ctx or the default cache type.");
                }
            }
            List<String> warnings = log.takeProblemList();
            return new B4916Model(lib, file, model, ctx, cp, warnings);
        }
    }

    private static MemorySegment contextParams(Abi abi, Arena tmp, ContextParams cp) {
        return abi.contextParams(tmp, cp, ggmlType(cp.typeK()), ggmlType(cp.typeV()));
    }

    private static String reason(String problems) {
        return problems.isEmpty() ? ". llama.cpp gave no reason (see the debug log)." : ": " + problems + ".";
    }

    /** ggml_type ids (stable across ggml versions, but this build is where we vouch for them). */
    private static int ggmlType(CacheType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q4_1 -> 3;
            case Q5_0 -> 6;
            case Q5_1 -> 7;
            case Q8_0 -> 8;
            case IQ4_NL -> 20;
            case BF16 -> 30;
        };
    }

    private boolean hasContext() {
        return ctx.address() != 0;
    }

    // ---- locking ----

    @FunctionalInterface
    interface NativeOp<T> {
        T run() throws LlamaException;
    }

    /** Runs {@code op} under the lock, refusing once the model is closing. */
    <T> T locked(NativeOp<T> op) throws LlamaException {
        if (closing) {
            throw closedException();
        }
        lock.lock();
        try {
            if (closed) {
                throw closedException();
            }
            return op.run();
        } finally {
            lock.unlock();
        }
    }

    private ModelClosedException closedException() {
        return new ModelClosedException("The model " + file.getFileName() + " has been closed.");
    }

    private void requireContext() throws LlamaException {
        if (!hasContext()) {
            throw new LlamaException("The model " + file.getFileName() + " was loaded vocabulary-only; it cannot "
                    + "evaluate tokens.");
        }
    }

    private void checkToken(int token) throws LlamaException {
        if (token < 0 || token >= nVocab) {
            throw new LlamaException("Token id " + token + " is outside the vocabulary (0.." + (nVocab - 1) + ") of "
                    + file.getFileName() + ".");
        }
    }

    Abi abi() {
        return abi;
    }

    MemorySegment context() {
        return ctx;
    }

    boolean hasLastLogits() {
        return main.lastLogitsValid;
    }

    void forget(B4916Sampler s) {
        samplers.remove(s);
    }

    void forget(B4916Lora a) {
        adapters.remove(a);
    }

    // ---- vocabulary ----

    @Override
    public Path file() {
        return file;
    }

    @Override
    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) throws LlamaException {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        return locked(() -> {
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment str = tmp.allocate(utf8.length + 1L);
                MemorySegment.copy(utf8, 0, str, JAVA_BYTE, 0, utf8.length);
                int cap = utf8.length + 4;
                MemorySegment out = tmp.allocate(JAVA_INT, cap);
                int n = abi.tokenize(vocab, str, utf8.length, out, cap, addSpecial, parseSpecial);
                if (n < 0) {
                    cap = -n;
                    out = tmp.allocate(JAVA_INT, cap);
                    n = abi.tokenize(vocab, str, utf8.length, out, cap, addSpecial, parseSpecial);
                }
                if (n < 0) {
                    throw new LlamaException("llama.cpp could not tokenize a text of " + utf8.length + " bytes.");
                }
                return out.asSlice(0, n * 4L).toArray(JAVA_INT);
            }
        });
    }

    @Override
    public byte[] tokenToPiece(int token, boolean special) throws LlamaException {
        checkToken(token);
        return locked(() -> {
            int n = abi.tokenToPiece(vocab, token, piece, (int) piece.byteSize(), 0, special);
            if (n >= 0) {
                return piece.asSlice(0, n).toArray(JAVA_BYTE);
            }
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment big = tmp.allocate(-n);
                int m = abi.tokenToPiece(vocab, token, big, -n, 0, special);
                return big.asSlice(0, Math.max(m, 0)).toArray(JAVA_BYTE);
            }
        });
    }

    @Override
    public String detokenize(int[] tokens, boolean removeSpecial, boolean unparseSpecial) throws LlamaException {
        for (int t : tokens) {
            checkToken(t);
        }
        if (tokens.length == 0) {
            return "";
        }
        return locked(() -> {
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment in = tmp.allocateFrom(JAVA_INT, tokens);
                int cap = tokens.length * 8 + 16;
                MemorySegment out = tmp.allocate(cap);
                int n = abi.detokenize(vocab, in, tokens.length, out, cap, removeSpecial, unparseSpecial);
                if (n < 0) {
                    cap = -n;
                    out = tmp.allocate(cap);
                    n = abi.detokenize(vocab, in, tokens.length, out, cap, removeSpecial, unparseSpecial);
                }
                if (n < 0) {
                    throw new LlamaException("llama.cpp could not detokenize " + tokens.length + " tokens.");
                }
                return new String(out.asSlice(0, n).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
            }
        });
    }

    @Override
    public List<String> loadWarnings() {
        return loadWarnings;
    }

    @Override
    public int bos() {
        return bos;
    }

    @Override
    public int eos() {
        return eos;
    }

    @Override
    public boolean isEog(int token) {
        if (token < 0 || token >= nVocab) {
            return false;
        }
        try {
            return locked(() -> abi.vocabIsEog(vocab, token));
        } catch (LlamaException e) {
            return false;
        }
    }

    @Override
    public boolean addsBos() {
        return addsBos;
    }

    @Override
    public int nVocab() {
        return nVocab;
    }

    // ---- model facts ----

    @Override
    public int nCtx() {
        return nCtx;
    }

    @Override
    public int nBatch() {
        return nBatch;
    }

    @Override
    public int nCtxTrain() {
        try {
            return locked(() -> abi.modelNCtxTrain(model));
        } catch (LlamaException e) {
            return 0;
        }
    }

    @Override
    public String description() {
        try {
            return locked(() -> {
                try (Arena tmp = Arena.ofConfined()) {
                    MemorySegment buf = tmp.allocate(256);
                    int n = abi.modelDesc(model, buf, buf.byteSize());
                    return n <= 0 ? "" : buf.getString(0);
                }
            });
        } catch (LlamaException e) {
            return "";
        }
    }

    @Override
    public long parameterCount() {
        try {
            return locked(() -> abi.modelNParams(model));
        } catch (LlamaException e) {
            return 0;
        }
    }

    @Override
    public long sizeBytes() {
        try {
            return locked(() -> abi.modelSize(model));
        } catch (LlamaException e) {
            return 0;
        }
    }

    @Override
    public Optional<String> metadata(String key) throws LlamaException {
        return locked(() -> {
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment k = tmp.allocateFrom(key);
                MemorySegment buf = tmp.allocate(META_BUF);
                int n = abi.metaValStr(model, k, buf, META_BUF);
                if (n < 0) {
                    return Optional.<String>empty();
                }
                if (n >= META_BUF) {
                    // snprintf semantics: n is the full length; ask again with room for it.
                    buf = tmp.allocate(n + 1L);
                    abi.metaValStr(model, k, buf, n + 1L);
                }
                return Optional.of(buf.getString(0));
            }
        });
    }

    @Override
    public Map<String, String> metadata() throws LlamaException {
        return locked(() -> {
            Map<String, String> out = new LinkedHashMap<>();
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment kb = tmp.allocate(META_BUF);
                MemorySegment vb = tmp.allocate(META_BUF);
                int count = abi.metaCount(model);
                for (int i = 0; i < count; i++) {
                    if (abi.metaKeyByIndex(model, i, kb, META_BUF) < 0) {
                        continue;
                    }
                    int n = abi.metaValStrByIndex(model, i, vb, META_BUF);
                    String v;
                    if (n >= META_BUF) {
                        MemorySegment big = tmp.allocate(n + 1L);
                        abi.metaValStrByIndex(model, i, big, n + 1L);
                        v = big.getString(0);
                    } else {
                        v = n < 0 ? "" : vb.getString(0);
                    }
                    out.put(kb.getString(0), v);
                }
            }
            return out;
        });
    }

    @Override
    public Optional<String> chatTemplate() throws LlamaException {
        return locked(() -> {
            MemorySegment t = abi.modelChatTemplate(model, MemorySegment.NULL);
            return t.address() == 0 ? Optional.<String>empty()
                    : Optional.of(t.reinterpret(Integer.MAX_VALUE).getString(0));
        });
    }

    // ---- evaluation ----

    @Override
    public void decode(int[] tokens, int firstPos) throws LlamaException {
        decode(main, tokens, firstPos, false);
    }

    @Override
    public float[][] decodeAll(int[] tokens, int firstPos) throws LlamaException {
        return decode(main, tokens, firstPos, true);
    }

    float[][] decode(Ctx c, int[] tokens, int firstPos, boolean all) throws LlamaException {
        requireContext();
        if (tokens.length == 0) {
            throw new IllegalArgumentException("nothing to decode");
        }
        if (firstPos < 0) {
            throw new IllegalArgumentException("firstPos < 0: " + firstPos);
        }
        for (int t : tokens) {
            checkToken(t);
        }
        if ((long) firstPos + tokens.length > nCtx) {
            throw new ContextFullException("The context window of " + nCtx + " tokens is full: " + tokens.length
                    + " more token(s) at position " + firstPos + " do not fit.");
        }
        float[][] out = all ? new float[tokens.length][] : null;
        for (int start = 0; start < tokens.length; start += nBatch) {
            int n = Math.min(nBatch, tokens.length - start);
            boolean lastChunk = start + n == tokens.length;
            int chunkStart = start;
            locked(() -> {
                requireOpen(c);
                decodeChunk(c, tokens, chunkStart, n, firstPos + chunkStart, all, lastChunk);
                if (all) {
                    for (int i = 0; i < n; i++) {
                        out[chunkStart + i] = copyLogits(c, i);
                    }
                }
                return null;
            });
        }
        return out;
    }

    /** One llama_decode call; runs under the lock. */
    private void decodeChunk(Ctx c, int[] tokens, int from, int n, int pos, boolean all, boolean lastChunk)
            throws LlamaException {
        c.lastLogitsValid = false;
        for (int i = 0; i < n; i++) {
            batchTokens.setAtIndex(JAVA_INT, i, tokens[from + i]);
            batchPos.setAtIndex(JAVA_INT, i, pos + i);
            batchLogits.set(JAVA_BYTE, i, (byte) (all || (lastChunk && i == n - 1) ? 1 : 0));
        }
        Abi.B_N_TOKENS.set(batch, n);
        lib.log().clearProblems();
        int rc = abi.decode(c.ptr, batch);
        if (rc == 1) {
            throw new ContextFullException("llama.cpp found no free KV cache slot for " + n + " token(s) at position "
                    + pos + " (n_ctx " + nCtx + ").");
        }
        if (rc != 0) {
            throw new LlamaException("llama_decode failed with code " + rc + " on " + file.getFileName()
                    + reason(lib.log().takeProblems()));
        }
        c.lastLogitsValid = lastChunk || all;
    }

    /** Logits of output {@code i} of the last decode; under the lock. */
    private float[] copyLogits(Ctx c, int i) throws LlamaException {
        MemorySegment p = abi.getLogitsIth(c.ptr, i);
        if (p.address() == 0) {
            throw new LlamaException("llama.cpp has no logits for output " + i + reason(lib.log().takeProblems()));
        }
        return p.reinterpret(nVocab * 4L).toArray(JAVA_FLOAT);
    }

    @Override
    public float[] lastLogits() throws LlamaException {
        return lastLogits(main);
    }

    float[] lastLogits(Ctx c) throws LlamaException {
        requireContext();
        return locked(() -> {
            requireOpen(c);
            if (!c.lastLogitsValid) {
                throw new LlamaException("No logits: nothing has been decoded since the cache was cleared.");
            }
            return copyLogits(c, -1);
        });
    }

    @Override
    public void clearKvCache() throws LlamaException {
        clearKvCache(main);
    }

    void clearKvCache(Ctx c) throws LlamaException {
        requireContext();
        locked(() -> {
            requireOpen(c);
            abi.kvSelfClear(c.ptr);
            c.lastLogitsValid = false;
            return null;
        });
    }

    @Override
    public boolean removeFromKvCache(int p0, int p1) throws LlamaException {
        return removeFromKvCache(main, p0, p1);
    }

    boolean removeFromKvCache(Ctx c, int p0, int p1) throws LlamaException {
        requireContext();
        return locked(() -> {
            requireOpen(c);
            boolean ok = abi.kvSelfSeqRm(c.ptr, 0, p0, p1);
            c.lastLogitsValid = false;
            return ok;
        });
    }

    private void requireOpen(Ctx c) throws LlamaException {
        if (c.freed) {
            throw new ModelClosedException("This secondary context of " + file.getFileName() + " has been closed.");
        }
    }

    // ---- secondary contexts ----

    @Override
    public SecondaryContext newContext() throws LlamaException {
        requireContext();
        return locked(() -> {
            try (Arena tmp = Arena.ofConfined()) {
                lib.log().clearProblems();
                MemorySegment p = abi.initFromModel(model, contextParams(abi, tmp, contextParams));
                if (p.address() == 0) {
                    throw new LlamaException("llama.cpp could not create a second context for " + file.getFileName()
                            + " (n_ctx=" + contextParams.nCtx() + ")" + reason(lib.log().takeProblems())
                            + " It needs as much memory again as the first one's KV cache.");
                }
                B4916Context c = new B4916Context(this, new Ctx(p));
                secondaries.add(c);
                return c;
            }
        });
    }

    /** Frees a secondary context; called by {@link B4916Context#close()}. */
    void free(B4916Context c) {
        try {
            locked(() -> {
                freeNative(c.ctx());
                return null;
            });
        } catch (LlamaException e) {
            // The model closed first and freed the context with it.
        }
        secondaries.remove(c);
    }

    /** Under the lock. */
    private void freeNative(Ctx c) {
        if (!c.freed) {
            c.freed = true;
            c.lastLogitsValid = false;
            abi.free(c.ptr);
        }
    }

    // ---- sampling ----

    @Override
    public TokenSampler newSampler(SamplerParams p) throws LlamaException {
        requireContext();
        return locked(() -> {
            B4916Sampler s = B4916Sampler.create(this, p);
            samplers.add(s);
            return s;
        });
    }

    // ---- LoRA ----

    @Override
    public LoraAdapter loadLora(Path adapterGguf) throws LlamaException {
        requireContext();
        Path f = adapterGguf.toAbsolutePath().normalize();
        if (!Files.isRegularFile(f) || !Files.isReadable(f)) {
            throw new LlamaException("LoRA adapter file " + f + " does not exist or cannot be read.");
        }
        return locked(() -> {
            try (Arena tmp = Arena.ofConfined()) {
                lib.log().clearProblems();
                MemorySegment a = abi.loraInit(model, tmp.allocateFrom(f.toString()));
                if (a.address() == 0) {
                    throw new LlamaException("llama.cpp could not load the LoRA adapter " + f + " for "
                            + file.getFileName() + reason(lib.log().takeProblems())
                            + " It must be a GGUF LoRA made for this model's architecture and shapes.");
                }
                B4916Lora l = new B4916Lora(this, a, f);
                adapters.add(l);
                return l;
            }
        });
    }

    private B4916Lora own(LoraAdapter a) {
        if (a instanceof B4916Lora l && l.model() == this) {
            return l;
        }
        throw new IllegalArgumentException("LoRA adapter " + a + " was not loaded for this model");
    }

    @Override
    public void setLora(LoraAdapter adapter, float scale) throws LlamaException {
        setLora(main, adapter, scale);
    }

    void setLora(Ctx c, LoraAdapter adapter, float scale) throws LlamaException {
        B4916Lora l = own(adapter);
        requireContext();
        locked(() -> {
            requireOpen(c);
            l.requireOpen();
            Float before = c.loras.put(l, scale);
            int rc = applyLoras(c);
            if (rc != 0) {
                if (before == null) {
                    c.loras.remove(l);
                } else {
                    c.loras.put(l, before);
                }
                applyLoras(c);
                throw new LlamaException("llama.cpp refused to activate LoRA " + l.file() + " (code " + rc + ").");
            }
            return null;
        });
    }

    @Override
    public boolean removeLora(LoraAdapter adapter) throws LlamaException {
        return removeLora(main, adapter);
    }

    boolean removeLora(Ctx c, LoraAdapter adapter) throws LlamaException {
        B4916Lora l = own(adapter);
        requireContext();
        return locked(() -> {
            requireOpen(c);
            if (l.isFreed() || c.loras.remove(l) == null) {
                return false;
            }
            applyLoras(c);
            return true;
        });
    }

    @Override
    public void clearLoras() throws LlamaException {
        clearLoras(main);
    }

    void clearLoras(Ctx c) throws LlamaException {
        requireContext();
        locked(() -> {
            requireOpen(c);
            c.loras.clear();
            applyLoras(c);
            return null;
        });
    }

    /** Frees an adapter (deactivating it first); called by {@link B4916Lora#close()}. */
    void free(B4916Lora l) {
        try {
            locked(() -> {
                if (!l.isFreed()) {
                    // Every context that has it active keeps a pointer to it: deactivate it everywhere first.
                    if (hasContext() && main.loras.remove(l) != null) {
                        applyLoras(main);
                    }
                    for (B4916Context c : secondaries) {
                        if (!c.ctx().freed && c.ctx().loras.remove(l) != null) {
                            applyLoras(c.ctx());
                        }
                    }
                    abi.loraFree(l.pointer());
                    l.markFreed();
                }
                return null;
            });
        } catch (LlamaException e) {
            // The model closed first and freed the adapter with it.
        }
        forget(l);
    }

    /** Makes {@code c.loras} what llama.cpp applies on that context; 0 or llama.cpp's error code. */
    private int applyLoras(Ctx c) {
        List<MemorySegment> adapters = new ArrayList<>(c.loras.size());
        float[] scales = new float[c.loras.size()];
        for (Map.Entry<B4916Lora, Float> e : c.loras.entrySet()) {
            scales[adapters.size()] = e.getValue();
            adapters.add(e.getKey().pointer());
        }
        return abi.setAdapters(c.ptr, adapters, scales);
    }

    /** Frees a sampler; called by {@link B4916Sampler#close()}. */
    void free(B4916Sampler s) {
        try {
            locked(() -> {
                s.freeNative();
                return null;
            });
        } catch (LlamaException e) {
            // The model closed first and freed the sampler with it.
        }
        forget(s);
    }

    // ---- life cycle ----

    @Override
    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        closing = true;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            for (B4916Sampler s : List.copyOf(samplers)) {
                s.freeNative();
            }
            samplers.clear();
            for (B4916Context c : List.copyOf(secondaries)) {
                freeNative(c.ctx());
            }
            secondaries.clear();
            // The context refers to active adapters: free it before them, and them before the model.
            if (hasContext()) {
                freeNative(main);
            }
            for (B4916Lora l : List.copyOf(adapters)) {
                if (!l.isFreed()) {
                    abi.loraFree(l.pointer());
                    l.markFreed();
                }
            }
            adapters.clear();
            abi.modelFree(model);
            arena.close();
        } finally {
            lock.unlock();
            lib.forget(this);
        }
    }

    @Override
    public String toString() {
        return "NativeModel[" + file + ", n_ctx=" + nCtx + ", n_vocab=" + nVocab + (closed ? ", closed]" : "]");
    }
}
