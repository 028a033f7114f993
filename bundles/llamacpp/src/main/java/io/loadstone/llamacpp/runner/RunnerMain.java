package io.loadstone.llamacpp.runner;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import io.loadstone.llamacpp.ContextFullException;
import io.loadstone.llamacpp.InferenceContext;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.LlamaRuntime;
import io.loadstone.llamacpp.LoraAdapter;
import io.loadstone.llamacpp.ModelClosedException;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.llamacpp.SecondaryContext;
import io.loadstone.llamacpp.TokenSampler;
import io.loadstone.llamacpp.runner.Wire.Op;

/**
 * The runner process: one JVM per loaded model, hosting the in-process binding of whichever
 * llama.cpp build it is told to load and answering {@link Wire} requests on stdin/stdout.
 * Whatever native code does here (GGML_ASSERT, abort, SIGSEGV, running out of memory) ends
 * this process only; the server sees the pipe close and reports it for this one model.
 *
 * <p>Arguments: library path, build name, shared logits file. stdout carries the protocol
 * only (Java's System.out is pointed at stderr); stderr carries log records, one per line,
 * marked with {@link #LOG_MARK} so the server can re-log them at their level, and whatever
 * native code prints itself. End of stdin (the server went away, even by kill -9) ends the
 * runner.
 */
public final class RunnerMain {

    /** Starts a stderr line that is a log record: mark, level, logger, message separated by {@link #LOG_SEP}. */
    static final char LOG_MARK = '\u001e';
    static final char LOG_SEP = '\u001f';

    /** System property that lets {@link Op#ABORT_FOR_TEST} call abort(); only tests set it. */
    static final String TEST_HOOKS = "loadstone.llamacpp.runner.testHooks";

    private final LlamaRuntime runtime;
    private final SharedLogits logits;
    private NativeModel model;
    private final Map<Integer, SecondaryContext> contexts = new HashMap<>();
    private final Map<Integer, TokenSampler> samplers = new HashMap<>();
    private final Map<Integer, LoraAdapter> loras = new HashMap<>();
    private int nextId = 1;

    private RunnerMain(LlamaRuntime runtime, SharedLogits logits) {
        this.runtime = runtime;
        this.logits = logits;
    }

    public static void main(String[] args) throws IOException {
        DataOutputStream out = new DataOutputStream(
                new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16));
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true));
        DataInputStream in = new DataInputStream(new BufferedInputStream(new FileInputStream(FileDescriptor.in), 1 << 16));
        logToStderr();
        LlamaLibrary library;
        try {
            library = LlamaLibrary.load(Path.of(args[0]), args[1]);
        } catch (LlamaException | RuntimeException e) {
            out.writeInt(Wire.HELLO);
            out.writeByte(Wire.FAILED);
            Wire.writeString(out, String.valueOf(e.getMessage()));
            out.flush();
            return;
        }
        LlamaRuntime rt = library.runtime();
        out.writeInt(Wire.HELLO);
        out.writeByte(Wire.OK);
        Wire.writeString(out, rt.buildName());
        out.writeBoolean(rt.supportsGpuOffload());
        out.writeBoolean(rt.supportsMmap());
        out.writeBoolean(rt.supportsMlock());
        out.writeInt(rt.maxDevices());
        Wire.writeString(out, rt.systemInfo());
        out.flush();
        try (SharedLogits shared = new SharedLogits(Path.of(args[2]), true)) {
            new RunnerMain(rt, shared).serve(in, out);
        }
        // No library.close(): the process ends now and the OS frees everything at once.
        System.exit(0);
    }

    private void serve(DataInputStream in, DataOutputStream out) throws IOException {
        while (true) {
            int code;
            try {
                code = in.readUnsignedByte();
            } catch (EOFException serverGone) {
                return;
            }
            // Each request is framed (op, length, body), so that one that fails halfway through
            // reading its arguments never leaves the stream out of step.
            Op op = Op.of(code);
            int target = in.readInt();
            DataInputStream args = new DataInputStream(new ByteArrayInputStream(Wire.readBytes(in)));
            try {
                handle(op, target, args, out);
            } catch (ContextFullException e) {
                fail(out, Wire.CONTEXT_FULL, e);
            } catch (ModelClosedException e) {
                fail(out, Wire.CLOSED, e);
            } catch (LlamaException | RuntimeException e) {
                fail(out, Wire.FAILED, e);
            }
            out.flush();
            if (op == Op.CLOSE) {
                return;
            }
        }
    }

    private static void fail(DataOutputStream out, int status, Exception e) throws IOException {
        out.writeByte(status);
        String m = e.getMessage();
        Wire.writeString(out, e instanceof LlamaException || m == null ? String.valueOf(m) : e.toString());
    }

    private void handle(Op op, int target, DataInputStream in, DataOutputStream out) throws IOException, LlamaException {
        switch (op) {
            case OPEN -> {
                Path file = Path.of(Wire.readString(in));
                var mp = Wire.readModelParams(in);
                var cp = Wire.readContextParams(in);
                boolean numa = in.readBoolean();
                if (numa) {
                    runtime.enableNuma();
                }
                model = runtime.open(file, mp, cp);
                int nVocab = model.nVocab();
                out.writeByte(Wire.OK);
                out.writeInt(nVocab);
                out.writeInt(model.bos());
                out.writeInt(model.eos());
                out.writeBoolean(model.addsBos());
                out.writeInt(model.nCtx());
                out.writeInt(model.nBatch());
                out.writeInt(model.nCtxTrain());
                Wire.writeString(out, model.description());
                out.writeLong(model.parameterCount());
                out.writeLong(model.sizeBytes());
                Wire.writeStrings(out, model.loadWarnings());
                // The end-of-generation set once, so that the server's per-token isEog needs no round trip.
                byte[] eog = new byte[nVocab];
                for (int t = 0; t < nVocab; t++) {
                    eog[t] = (byte) (model.isEog(t) ? 1 : 0);
                }
                Wire.writeBytes(out, eog);
            }
            case TOKENIZE -> {
                String text = Wire.readString(in);
                boolean addSpecial = in.readBoolean();
                boolean parseSpecial = in.readBoolean();
                int[] tokens = model().tokenize(text, addSpecial, parseSpecial);
                out.writeByte(Wire.OK);
                Wire.writeInts(out, tokens);
            }
            case PIECE -> {
                int token = in.readInt();
                boolean special = in.readBoolean();
                byte[] piece = model().tokenToPiece(token, special);
                out.writeByte(Wire.OK);
                Wire.writeBytes(out, piece);
            }
            case DETOKENIZE -> {
                int[] tokens = Wire.readInts(in);
                boolean removeSpecial = in.readBoolean();
                boolean unparseSpecial = in.readBoolean();
                String text = model().detokenize(tokens, removeSpecial, unparseSpecial);
                out.writeByte(Wire.OK);
                Wire.writeString(out, text);
            }
            case METADATA_KEY -> {
                Optional<String> v = model().metadata(Wire.readString(in));
                out.writeByte(Wire.OK);
                Wire.writeOptional(out, v.orElse(null));
            }
            case METADATA_ALL -> {
                Map<String, String> all = model().metadata();
                out.writeByte(Wire.OK);
                Wire.writeMap(out, all);
            }
            case CHAT_TEMPLATE -> {
                Optional<String> v = model().chatTemplate();
                out.writeByte(Wire.OK);
                Wire.writeOptional(out, v.orElse(null));
            }
            case DECODE -> {
                int[] tokens = Wire.readInts(in);
                int firstPos = in.readInt();
                context(target).decode(tokens, firstPos);
                out.writeByte(Wire.OK);
            }
            case DECODE_ALL -> {
                int[] tokens = Wire.readInts(in);
                int firstPos = in.readInt();
                float[][] rows = context(target).decodeAll(tokens, firstPos);
                long size = logits.write(rows);
                out.writeByte(Wire.OK);
                out.writeInt(rows.length);
                out.writeLong(size);
            }
            case LAST_LOGITS -> {
                long size = logits.write(context(target).lastLogits());
                out.writeByte(Wire.OK);
                out.writeLong(size);
            }
            case CLEAR_KV -> {
                context(target).clearKvCache();
                out.writeByte(Wire.OK);
            }
            case REMOVE_KV -> {
                int p0 = in.readInt();
                int p1 = in.readInt();
                boolean removed = context(target).removeFromKvCache(p0, p1);
                out.writeByte(Wire.OK);
                out.writeBoolean(removed);
            }
            case NEW_CONTEXT -> {
                SecondaryContext c = model().newContext();
                int id = nextId++;
                contexts.put(id, c);
                out.writeByte(Wire.OK);
                out.writeInt(id);
            }
            case CLOSE_CONTEXT -> {
                SecondaryContext c = contexts.remove(target);
                if (c != null) {
                    c.close();
                }
                out.writeByte(Wire.OK);
            }
            case NEW_SAMPLER -> {
                var params = Wire.readSamplerParams(in);
                TokenSampler s = model().newSampler(params);
                int id = nextId++;
                samplers.put(id, s);
                out.writeByte(Wire.OK);
                out.writeInt(id);
            }
            case SAMPLE -> {
                int token = sampler(target).sample();
                out.writeByte(Wire.OK);
                out.writeInt(token);
            }
            case ACCEPT -> {
                int token = in.readInt();
                sampler(target).accept(token);
                out.writeByte(Wire.OK);
            }
            case RESET_SAMPLER -> {
                sampler(target).reset();
                out.writeByte(Wire.OK);
            }
            case CLOSE_SAMPLER -> {
                TokenSampler s = samplers.remove(target);
                if (s != null) {
                    s.close();
                }
                out.writeByte(Wire.OK);
            }
            case LOAD_LORA -> {
                LoraAdapter a = model().loadLora(Path.of(Wire.readString(in)));
                int id = nextId++;
                loras.put(id, a);
                out.writeByte(Wire.OK);
                out.writeInt(id);
            }
            case SET_LORA -> {
                LoraAdapter a = lora(in.readInt());
                float scale = in.readFloat();
                if (target == 0) {
                    model().setLora(a, scale);
                } else {
                    secondary(target).setLora(a, scale);
                }
                out.writeByte(Wire.OK);
            }
            case REMOVE_LORA -> {
                LoraAdapter a = lora(in.readInt());
                boolean removed = target == 0 ? model().removeLora(a) : secondary(target).removeLora(a);
                out.writeByte(Wire.OK);
                out.writeBoolean(removed);
            }
            case CLEAR_LORAS -> {
                if (target == 0) {
                    model().clearLoras();
                } else {
                    secondary(target).clearLoras();
                }
                out.writeByte(Wire.OK);
            }
            case CLOSE_LORA -> {
                LoraAdapter a = loras.remove(target);
                if (a != null) {
                    a.close();
                }
                out.writeByte(Wire.OK);
            }
            case CLOSE -> {
                if (model != null) {
                    model.close();
                }
                out.writeByte(Wire.OK);
            }
            case ABORT_FOR_TEST -> {
                if (!Boolean.getBoolean(TEST_HOOKS)) {
                    throw new LlamaException("test hooks are off in this runner");
                }
                System.err.println("runner test hook: calling abort()");
                Linker linker = Linker.nativeLinker();
                var abort = linker.downcallHandle(linker.defaultLookup().find("abort").orElseThrow(),
                        FunctionDescriptor.ofVoid());
                try {
                    abort.invokeExact();
                } catch (Throwable t) {
                    throw new LlamaException("abort() returned: " + t);
                }
            }
        }
    }

    private NativeModel model() throws LlamaException {
        if (model == null) {
            throw new LlamaException("no model is open in this runner");
        }
        return model;
    }

    private InferenceContext context(int id) throws LlamaException {
        return id == 0 ? model() : secondary(id);
    }

    private SecondaryContext secondary(int id) throws LlamaException {
        SecondaryContext c = contexts.get(id);
        if (c == null) {
            throw new ModelClosedException("That llama.cpp context was closed.");
        }
        return c;
    }

    private TokenSampler sampler(int id) throws LlamaException {
        TokenSampler s = samplers.get(id);
        if (s == null) {
            throw new LlamaException("That sampler was closed.");
        }
        return s;
    }

    private LoraAdapter lora(int id) throws LlamaException {
        LoraAdapter a = loras.get(id);
        if (a == null) {
            throw new LlamaException("That LoRA adapter was freed.");
        }
        return a;
    }

    /**
     * Every log record (llama.cpp's, through the binding's bridge, and the JDK's) becomes one
     * marked stderr line, which the server re-logs under the same logger and level.
     */
    private static void logToStderr() {
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
        }
        root.setLevel(Level.FINE);
        PrintStream err = System.err;
        root.addHandler(new Handler() {
            @Override
            public void publish(LogRecord r) {
                String msg = r.getMessage() == null ? "" : r.getMessage();
                if (r.getParameters() != null && r.getParameters().length > 0) {
                    msg = java.text.MessageFormat.format(msg, r.getParameters());
                }
                if (r.getThrown() != null) {
                    msg = msg + " (" + r.getThrown() + ")";
                }
                err.println(LOG_MARK + r.getLevel().getName() + LOG_SEP + r.getLoggerName() + LOG_SEP
                        + msg.replace('\n', ' '));
            }

            @Override
            public void flush() {
                err.flush();
            }

            @Override
            public void close() {
            }
        });
    }
}
