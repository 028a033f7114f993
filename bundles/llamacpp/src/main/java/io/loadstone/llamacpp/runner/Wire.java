package io.loadstone.llamacpp.runner;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.loadstone.llamacpp.CacheType;
import io.loadstone.llamacpp.ContextParams;
import io.loadstone.llamacpp.ModelParams;
import io.loadstone.llamacpp.SamplerParams;

/**
 * The runner protocol's encoding, shared by both ends: a request is an {@link Op} byte, a
 * target id and the op's arguments as a length-prefixed block; a response is a {@link Status} byte and the op's result
 * (or a message). Strings are length-prefixed UTF-8 (writeUTF stops at 64 KB, which a chat
 * template or the metadata map can exceed). Logits never travel here: they go through
 * {@link SharedLogits}.
 */
final class Wire {

    /** Requests, parent to runner. The ordinal is the wire code, so only append. */
    enum Op {
        OPEN, TOKENIZE, PIECE, DETOKENIZE, METADATA_KEY, METADATA_ALL, CHAT_TEMPLATE, DECODE, DECODE_ALL,
        LAST_LOGITS, CLEAR_KV, REMOVE_KV, NEW_CONTEXT, CLOSE_CONTEXT, NEW_SAMPLER, SAMPLE, ACCEPT, RESET_SAMPLER,
        CLOSE_SAMPLER, LOAD_LORA, SET_LORA, REMOVE_LORA, CLEAR_LORAS, CLOSE_LORA, CLOSE, ABORT_FOR_TEST;

        private static final Op[] ALL = values();

        static Op of(int code) throws IOException {
            if (code < 0 || code >= ALL.length) {
                throw new IOException("unknown runner op " + code);
            }
            return ALL[code];
        }
    }

    /** Response status; the three failures map back to the exception types of the in-process binding. */
    static final int OK = 0;
    static final int FAILED = 1;
    static final int CLOSED = 2;
    static final int CONTEXT_FULL = 3;

    /** First bytes the runner writes, so that stray output on its stdout is recognised as such. */
    static final int HELLO = 0x4C4C5231; // "LLR1"

    private Wire() {
    }

    static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    /**
     * A file for the runner, always absolute: the runner works in its own folder, and the server's
     * paths may be relative (Felix's storage is in the exported jar), so a relative one would name
     * another file there.
     */
    static void writePath(DataOutputStream out, java.nio.file.Path p) throws IOException {
        writeString(out, p.toAbsolutePath().toString());
    }

    static String readString(DataInputStream in) throws IOException {
        return new String(readBytes(in), StandardCharsets.UTF_8);
    }

    static void writeBytes(DataOutputStream out, byte[] b) throws IOException {
        out.writeInt(b.length);
        out.write(b);
    }

    static byte[] readBytes(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0) {
            throw new IOException("negative length " + n + " on the runner channel");
        }
        return in.readNBytes(n);
    }

    static void writeInts(DataOutputStream out, int[] a) throws IOException {
        out.writeInt(a.length);
        for (int v : a) {
            out.writeInt(v);
        }
    }

    static int[] readInts(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0) {
            throw new IOException("negative length " + n + " on the runner channel");
        }
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = in.readInt();
        }
        return a;
    }

    static void writeOptional(DataOutputStream out, String s) throws IOException {
        out.writeBoolean(s != null);
        if (s != null) {
            writeString(out, s);
        }
    }

    static String readOptional(DataInputStream in) throws IOException {
        return in.readBoolean() ? readString(in) : null;
    }

    static void writeStrings(DataOutputStream out, List<String> list) throws IOException {
        out.writeInt(list.size());
        for (String s : list) {
            writeString(out, s);
        }
    }

    static List<String> readStrings(DataInputStream in) throws IOException {
        int n = in.readInt();
        List<String> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(readString(in));
        }
        return out;
    }

    static void writeMap(DataOutputStream out, Map<String, String> map) throws IOException {
        out.writeInt(map.size());
        for (Map.Entry<String, String> e : map.entrySet()) {
            writeString(out, e.getKey());
            writeString(out, e.getValue());
        }
    }

    static Map<String, String> readMap(DataInputStream in) throws IOException {
        int n = in.readInt();
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            out.put(readString(in), readString(in));
        }
        return out;
    }

    static void writeModelParams(DataOutputStream out, ModelParams p) throws IOException {
        out.writeInt(p.gpuLayers());
        out.writeInt(p.mainGpu());
        out.writeInt(p.tensorSplit().size());
        for (Double d : p.tensorSplit()) {
            out.writeDouble(d);
        }
        out.writeBoolean(p.useMmap());
        out.writeBoolean(p.useMlock());
        out.writeBoolean(p.vocabOnly());
        out.writeBoolean(p.checkTensors());
    }

    static ModelParams readModelParams(DataInputStream in) throws IOException {
        int gpuLayers = in.readInt();
        int mainGpu = in.readInt();
        int n = in.readInt();
        List<Double> split = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            split.add(in.readDouble());
        }
        return new ModelParams(gpuLayers, mainGpu, split, in.readBoolean(), in.readBoolean(), in.readBoolean(),
                in.readBoolean());
    }

    static void writeContextParams(DataOutputStream out, ContextParams p) throws IOException {
        out.writeInt(p.nCtx());
        out.writeInt(p.nBatch());
        out.writeInt(p.nUbatch());
        out.writeInt(p.nThreads());
        out.writeInt(p.nThreadsBatch());
        out.writeFloat(p.ropeFreqBase());
        out.writeFloat(p.ropeFreqScale());
        out.writeInt(p.typeK().ordinal());
        out.writeInt(p.typeV().ordinal());
        out.writeBoolean(p.flashAttention());
    }

    static ContextParams readContextParams(DataInputStream in) throws IOException {
        CacheType[] types = CacheType.values();
        return new ContextParams(in.readInt(), in.readInt(), in.readInt(), in.readInt(), in.readInt(), in.readFloat(),
                in.readFloat(), types[in.readInt()], types[in.readInt()], in.readBoolean());
    }

    static void writeSamplerParams(DataOutputStream out, SamplerParams p) throws IOException {
        out.writeBoolean(p.greedy());
        out.writeLong(p.seed());
        out.writeFloat(p.temperature());
        out.writeInt(p.topK());
        out.writeFloat(p.topP());
        out.writeFloat(p.minP());
        out.writeFloat(p.typicalP());
        out.writeInt(p.penaltyLastN());
        out.writeFloat(p.repeatPenalty());
        out.writeFloat(p.frequencyPenalty());
        out.writeFloat(p.presencePenalty());
        out.writeInt(p.mirostat());
        out.writeFloat(p.mirostatTau());
        out.writeFloat(p.mirostatEta());
        out.writeInt(p.bannedTokens().size());
        for (int t : p.bannedTokens()) {
            out.writeInt(t);
        }
    }

    static SamplerParams readSamplerParams(DataInputStream in) throws IOException {
        boolean greedy = in.readBoolean();
        long seed = in.readLong();
        float temperature = in.readFloat();
        int topK = in.readInt();
        float topP = in.readFloat();
        float minP = in.readFloat();
        float typicalP = in.readFloat();
        int penaltyLastN = in.readInt();
        float repeat = in.readFloat();
        float frequency = in.readFloat();
        float presence = in.readFloat();
        int mirostat = in.readInt();
        float tau = in.readFloat();
        float eta = in.readFloat();
        int n = in.readInt();
        List<Integer> banned = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            banned.add(in.readInt());
        }
        return new SamplerParams(greedy, seed, temperature, topK, topP, minP, typicalP, penaltyLastN, repeat, frequency,
                presence, mirostat, tau, eta, banned);
    }
}
