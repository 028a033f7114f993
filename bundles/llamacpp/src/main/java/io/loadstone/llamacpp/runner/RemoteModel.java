package io.loadstone.llamacpp.runner;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;

import io.loadstone.llamacpp.ContextParams;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LoraAdapter;
import io.loadstone.llamacpp.ModelClosedException;
import io.loadstone.llamacpp.ModelParams;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.llamacpp.SamplerParams;
import io.loadstone.llamacpp.SecondaryContext;
import io.loadstone.llamacpp.TokenSampler;
import io.loadstone.llamacpp.runner.Wire.Op;

/**
 * A {@link NativeModel} living in a runner process. Facts that never change (vocabulary size,
 * special tokens, which tokens end generation, token pieces once asked for) are kept here, so
 * that a generation loop makes two round trips per token (decode, sample) as the in-process
 * binding makes two native calls. Logits arrive through the shared file.
 *
 * <p>Every call is serialised on the runner's channel. {@link #close()} does not wait for a
 * call in progress: it kills the process, and the call in progress ends with
 * {@link ModelClosedException}.
 */
final class RemoteModel implements NativeModel {

    private final RunnerProcess process;
    private final Path file;
    private final Consumer<RemoteModel> onClose;
    private final int nVocab;
    private final int bos;
    private final int eos;
    private final boolean addsBos;
    private final int nCtx;
    private final int nBatch;
    private final int nCtxTrain;
    private final String description;
    private final long parameterCount;
    private final long sizeBytes;
    private final List<String> loadWarnings;
    private final byte[] eog;
    private final AtomicReferenceArray<byte[]> pieces;
    private final AtomicReferenceArray<byte[]> specialPieces;
    private volatile boolean closed;

    private RemoteModel(RunnerProcess process, Path file, Consumer<RemoteModel> onClose, java.io.DataInputStream in)
            throws java.io.IOException {
        this.process = process;
        this.file = file;
        this.onClose = onClose;
        nVocab = in.readInt();
        bos = in.readInt();
        eos = in.readInt();
        addsBos = in.readBoolean();
        nCtx = in.readInt();
        nBatch = in.readInt();
        nCtxTrain = in.readInt();
        description = Wire.readString(in);
        parameterCount = in.readLong();
        sizeBytes = in.readLong();
        loadWarnings = List.copyOf(Wire.readStrings(in));
        eog = Wire.readBytes(in);
        pieces = new AtomicReferenceArray<>(Math.max(0, nVocab));
        specialPieces = new AtomicReferenceArray<>(Math.max(0, nVocab));
    }

    static RemoteModel open(RunnerProcess p, Path gguf, ModelParams mp, ContextParams cp, boolean numa,
            Consumer<RemoteModel> onClose) throws LlamaException {
        return p.call(Op.OPEN, 0, out -> {
            Wire.writePath(out, gguf);
            Wire.writeModelParams(out, mp);
            Wire.writeContextParams(out, cp);
            out.writeBoolean(numa);
        }, in -> new RemoteModel(p, gguf, onClose, in));
    }

    ProcessHandle process() {
        return process.handle();
    }

    /** For tests: makes the runner call abort(), as a failed GGML_ASSERT does (needs the runner's test hooks on). */
    void abortForTest() throws LlamaException {
        call(Op.ABORT_FOR_TEST, 0, null, null);
    }

    private <T> T call(Op op, int target, RunnerProcess.Args args, RunnerProcess.Result<T> result)
            throws LlamaException {
        if (closed) {
            throw new ModelClosedException("The model " + file.getFileName() + " was closed.");
        }
        return process.call(op, target, args, result);
    }

    @Override
    public Path file() {
        return file;
    }

    @Override
    public List<String> loadWarnings() {
        return loadWarnings;
    }

    // ---- vocabulary ----

    @Override
    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) throws LlamaException {
        return call(Op.TOKENIZE, 0, out -> {
            Wire.writeString(out, text);
            out.writeBoolean(addSpecial);
            out.writeBoolean(parseSpecial);
        }, Wire::readInts);
    }

    @Override
    public byte[] tokenToPiece(int token, boolean special) throws LlamaException {
        AtomicReferenceArray<byte[]> cache = special ? specialPieces : pieces;
        boolean cacheable = token >= 0 && token < cache.length();
        byte[] piece = cacheable ? cache.get(token) : null;
        if (piece == null) {
            piece = call(Op.PIECE, 0, out -> {
                out.writeInt(token);
                out.writeBoolean(special);
            }, Wire::readBytes);
            if (cacheable) {
                cache.set(token, piece);
            }
        }
        return piece.clone();
    }

    @Override
    public String detokenize(int[] tokens, boolean removeSpecial, boolean unparseSpecial) throws LlamaException {
        return call(Op.DETOKENIZE, 0, out -> {
            Wire.writeInts(out, tokens);
            out.writeBoolean(removeSpecial);
            out.writeBoolean(unparseSpecial);
        }, Wire::readString);
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
        return token >= 0 && token < eog.length && eog[token] != 0;
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
        return nCtxTrain;
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public long parameterCount() {
        return parameterCount;
    }

    @Override
    public long sizeBytes() {
        return sizeBytes;
    }

    @Override
    public Optional<String> metadata(String key) throws LlamaException {
        return Optional.ofNullable(call(Op.METADATA_KEY, 0, out -> Wire.writeString(out, key), Wire::readOptional));
    }

    @Override
    public Map<String, String> metadata() throws LlamaException {
        return call(Op.METADATA_ALL, 0, null, Wire::readMap);
    }

    @Override
    public Optional<String> chatTemplate() throws LlamaException {
        return Optional.ofNullable(call(Op.CHAT_TEMPLATE, 0, null, Wire::readOptional));
    }

    // ---- evaluation (context 0 is this model's own) ----

    @Override
    public void decode(int[] tokens, int firstPos) throws LlamaException {
        decode(0, tokens, firstPos);
    }

    @Override
    public float[][] decodeAll(int[] tokens, int firstPos) throws LlamaException {
        return decodeAll(0, tokens, firstPos);
    }

    @Override
    public float[] lastLogits() throws LlamaException {
        return lastLogits(0);
    }

    @Override
    public void clearKvCache() throws LlamaException {
        call(Op.CLEAR_KV, 0, null, null);
    }

    @Override
    public boolean removeFromKvCache(int p0, int p1) throws LlamaException {
        return removeFromKvCache(0, p0, p1);
    }

    private void decode(int ctx, int[] tokens, int firstPos) throws LlamaException {
        call(Op.DECODE, ctx, out -> {
            Wire.writeInts(out, tokens);
            out.writeInt(firstPos);
        }, null);
    }

    private float[][] decodeAll(int ctx, int[] tokens, int firstPos) throws LlamaException {
        // Held across the request and the read, so no other call overwrites the shared file in between.
        synchronized (process) {
            long[] rowsAndSize = call(Op.DECODE_ALL, ctx, out -> {
                Wire.writeInts(out, tokens);
                out.writeInt(firstPos);
            }, in -> new long[] {in.readInt(), in.readLong()});
            return process.readLogits((int) rowsAndSize[0], nVocab, rowsAndSize[1]);
        }
    }

    private float[] lastLogits(int ctx) throws LlamaException {
        synchronized (process) {
            long size = call(Op.LAST_LOGITS, ctx, null, in -> in.readLong());
            return process.readLogits(1, nVocab, size)[0];
        }
    }

    private boolean removeFromKvCache(int ctx, int p0, int p1) throws LlamaException {
        return call(Op.REMOVE_KV, ctx, out -> {
            out.writeInt(p0);
            out.writeInt(p1);
        }, in -> in.readBoolean());
    }

    @Override
    public SecondaryContext newContext() throws LlamaException {
        int id = call(Op.NEW_CONTEXT, 0, null, in -> in.readInt());
        return new Context(id);
    }

    // ---- sampling ----

    @Override
    public TokenSampler newSampler(SamplerParams params) throws LlamaException {
        int id = call(Op.NEW_SAMPLER, 0, out -> Wire.writeSamplerParams(out, params), in -> in.readInt());
        return new Sampler(id);
    }

    // ---- LoRA ----

    @Override
    public LoraAdapter loadLora(Path adapterGguf) throws LlamaException {
        int id = call(Op.LOAD_LORA, 0, out -> Wire.writePath(out, adapterGguf), in -> in.readInt());
        return new Lora(id, adapterGguf);
    }

    @Override
    public void setLora(LoraAdapter adapter, float scale) throws LlamaException {
        setLora(0, adapter, scale);
    }

    @Override
    public boolean removeLora(LoraAdapter adapter) throws LlamaException {
        return removeLora(0, adapter);
    }

    @Override
    public void clearLoras() throws LlamaException {
        call(Op.CLEAR_LORAS, 0, null, null);
    }

    private void setLora(int ctx, LoraAdapter adapter, float scale) throws LlamaException {
        int id = own(adapter).id;
        call(Op.SET_LORA, ctx, out -> {
            out.writeInt(id);
            out.writeFloat(scale);
        }, null);
    }

    private boolean removeLora(int ctx, LoraAdapter adapter) throws LlamaException {
        int id = own(adapter).id;
        return call(Op.REMOVE_LORA, ctx, out -> out.writeInt(id), in -> in.readBoolean());
    }

    private Lora own(LoraAdapter adapter) throws LlamaException {
        if (adapter instanceof Lora l && l.owner() == this) {
            if (l.handleClosed) {
                throw new LlamaException("The LoRA adapter " + l.file() + " was freed: load it again.");
            }
            return l;
        }
        throw new LlamaException("The LoRA adapter " + (adapter == null ? null : adapter.file())
                + " was not loaded for " + file.getFileName() + ": load it with this model's loadLora.");
    }

    // ---- life cycle ----

    @Override
    public boolean isClosed() {
        return closed;
    }

    @Override
    public void onStopped(Consumer<String> handler) {
        process.onStopped(message -> {
            if (!closed) {
                handler.accept(message);
            }
        });
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        process.kill();
        onClose.accept(this);
    }

    @Override
    public String toString() {
        return "llama.cpp model " + file.getFileName() + " in " + process;
    }

    /** Something the runner holds for this model under an id, freed by a request of its own. */
    private abstract class Handle implements AutoCloseable {
        final int id;
        private final Op freeOp;
        volatile boolean handleClosed;

        Handle(int id, Op freeOp) {
            this.id = id;
            this.freeOp = freeOp;
        }

        /** Frees it in the runner, unless the model (and so the process) is already gone. */
        @Override
        public void close() {
            if (handleClosed) {
                return;
            }
            handleClosed = true;
            if (closed) {
                return;
            }
            try {
                call(freeOp, id, null, null);
            } catch (LlamaException e) {
                // Gone with the model or its process: nothing left to free.
            }
        }
    }

    private final class Context extends Handle implements SecondaryContext {

        Context(int id) {
            super(id, Op.CLOSE_CONTEXT);
        }

        @Override
        public int nCtx() {
            return nCtx;
        }

        @Override
        public int nBatch() {
            return nBatch;
        }

        @Override
        public void decode(int[] tokens, int firstPos) throws LlamaException {
            RemoteModel.this.decode(id, tokens, firstPos);
        }

        @Override
        public float[][] decodeAll(int[] tokens, int firstPos) throws LlamaException {
            return RemoteModel.this.decodeAll(id, tokens, firstPos);
        }

        @Override
        public float[] lastLogits() throws LlamaException {
            return RemoteModel.this.lastLogits(id);
        }

        @Override
        public void clearKvCache() throws LlamaException {
            call(Op.CLEAR_KV, id, null, null);
        }

        @Override
        public boolean removeFromKvCache(int p0, int p1) throws LlamaException {
            return RemoteModel.this.removeFromKvCache(id, p0, p1);
        }

        @Override
        public void setLora(LoraAdapter adapter, float scale) throws LlamaException {
            RemoteModel.this.setLora(id, adapter, scale);
        }

        @Override
        public boolean removeLora(LoraAdapter adapter) throws LlamaException {
            return RemoteModel.this.removeLora(id, adapter);
        }

        @Override
        public void clearLoras() throws LlamaException {
            call(Op.CLEAR_LORAS, id, null, null);
        }

        @Override
        public boolean isClosed() {
            return handleClosed || closed;
        }
    }

    private final class Sampler extends Handle implements TokenSampler {

        Sampler(int id) {
            super(id, Op.CLOSE_SAMPLER);
        }

        @Override
        public int sample() throws LlamaException {
            return call(Op.SAMPLE, id, null, in -> in.readInt());
        }

        @Override
        public void accept(int token) throws LlamaException {
            call(Op.ACCEPT, id, out -> out.writeInt(token), null);
        }

        @Override
        public void reset() throws LlamaException {
            call(Op.RESET_SAMPLER, id, null, null);
        }
    }

    private final class Lora extends Handle implements LoraAdapter {
        private final Path adapterFile;

        Lora(int id, Path adapterFile) {
            super(id, Op.CLOSE_LORA);
            this.adapterFile = adapterFile;
        }

        RemoteModel owner() {
            return RemoteModel.this;
        }

        @Override
        public Path file() {
            return adapterFile;
        }
    }
}
