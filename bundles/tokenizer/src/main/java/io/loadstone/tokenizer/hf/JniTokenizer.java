package io.loadstone.tokenizer.hf;

import java.lang.ref.Cleaner;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import io.loadstone.tokenizer.HfTokenizer;
import io.loadstone.tokenizer.StreamDecoder;

/**
 * An {@link HfTokenizer} over one native tokenizer handle.
 *
 * <p>The native side panics (and a panic across JNI aborts the JVM) on a zero handle, a null
 * string or an empty id array, so every call is checked here first. A read/write lock keeps
 * {@link #close()} from freeing the handle under a call in progress.
 */
final class JniTokenizer implements HfTokenizer {

    private final TokenizerDefinition def;
    private final boolean configBosEos;
    private final OptionalInt bos;
    private final OptionalInt eos;
    private final Set<Integer> eosIds;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Handle handle;
    private final Cleaner.Cleanable cleanable;

    /** The native handle, freed by close() or, for a tokenizer nobody closed, by the cleaner. */
    private static final class Handle implements Runnable {
        private long value;

        Handle(long value) {
            this.value = value;
        }

        @Override
        public void run() {
            long h = value;
            value = 0;
            if (h != 0) {
                TokenizersLibrary.LIB.deleteTokenizer(h);
            }
        }
    }

    JniTokenizer(TokenizerDefinition def, long nativeHandle, boolean configBosEos, Cleaner cleaner) {
        this.def = def;
        this.configBosEos = configBosEos;
        Vocabulary v = def.vocabulary();
        this.bos = named(v, def.specialTokens().get("bos_token"), def.generationBos());
        this.eos = named(v, def.specialTokens().get("eos_token"),
                def.generationEos().isEmpty() ? null : def.generationEos().getFirst());
        Set<Integer> ends = new LinkedHashSet<>();
        eos.ifPresent(ends::add);
        for (int id : def.generationEos()) {
            if (id < v.size()) {
                ends.add(id);
            }
        }
        this.eosIds = Set.copyOf(ends);
        this.handle = new Handle(nativeHandle);
        this.cleanable = cleaner.register(this, handle);
    }

    private static OptionalInt named(Vocabulary v, String token, Integer fallback) {
        if (token != null) {
            OptionalInt id = v.id(token);
            if (id.isPresent()) {
                return id;
            }
        }
        return fallback != null && fallback >= 0 && fallback < v.size() ? OptionalInt.of(fallback) : OptionalInt.empty();
    }

    @Override
    public Path folder() {
        return def.folder();
    }

    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        Objects.requireNonNull(text, "text");
        // An explicit add_bos_token replaces tokenizer.json's post-processor, as in transformers'
        // Llama/Gemma fast tokenizers, which rebuild that post-processor from the config.
        boolean fromConfig = addSpecialTokens && configBosEos && def.addBos() != null;
        long[] ids = nativeEncode(text, addSpecialTokens && !fromConfig);
        int extraBos = fromConfig && def.addBos() && bos.isPresent() ? 1 : 0;
        int extraEos = fromConfig && Boolean.TRUE.equals(def.addEos()) && eos.isPresent() ? 1 : 0;
        int[] out = new int[ids.length + extraBos + extraEos];
        if (extraBos == 1) {
            out[0] = bos.getAsInt();
        }
        for (int i = 0; i < ids.length; i++) {
            out[extraBos + i] = Math.toIntExact(ids[i]);
        }
        if (extraEos == 1) {
            out[out.length - 1] = eos.getAsInt();
        }
        return out;
    }

    private long[] nativeEncode(String text, boolean addSpecial) {
        var read = lock.readLock();
        read.lock();
        try {
            long h = live();
            long encoding;
            try {
                encoding = TokenizersLibrary.LIB.encode(h, text, addSpecial);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("The tokenizer of " + def.folder() + " cannot encode this text: "
                        + e.getMessage(), e);
            }
            try {
                return TokenizersLibrary.LIB.getTokenIds(encoding);
            } finally {
                TokenizersLibrary.LIB.deleteEncoding(encoding);
            }
        } finally {
            read.unlock();
        }
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        return decode(ids, 0, ids.length, skipSpecialTokens);
    }

    String decode(int[] ids, int from, int to, boolean skipSpecialTokens) {
        Objects.checkFromToIndex(from, to, ids.length);
        long[] wide = new long[to - from];
        for (int i = from; i < to; i++) {
            wide[i - from] = checkId(ids[i]);
        }
        var read = lock.readLock();
        read.lock();
        try {
            long h = live();
            return wide.length == 0 ? "" : TokenizersLibrary.LIB.decode(h, wide, skipSpecialTokens);
        } finally {
            read.unlock();
        }
    }

    /** The native side drops unknown ids silently; here they are the caller's error. */
    int checkId(int id) {
        int size = def.vocabulary().size();
        if (id < 0 || id >= size) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + def.folder()
                    + " (0.." + (size - 1) + ")");
        }
        return id;
    }

    private long live() {
        long h = handle.value;
        if (h == 0) {
            throw new IllegalStateException("The tokenizer of " + def.folder() + " is closed");
        }
        return h;
    }

    @Override
    public StreamDecoder streamDecoder(int[] context, boolean skipSpecialTokens) {
        return new IncrementalStreamDecoder(this, context, skipSpecialTokens);
    }

    @Override
    public int vocabSize() {
        return def.vocabulary().size();
    }

    @Override
    public OptionalInt tokenId(String token) {
        return def.vocabulary().id(token);
    }

    @Override
    public Optional<String> token(int id) {
        return def.vocabulary().token(id);
    }

    @Override
    public boolean isSpecial(int id) {
        return def.vocabulary().isSpecial(id);
    }

    @Override
    public OptionalInt bosId() {
        return bos;
    }

    @Override
    public OptionalInt eosId() {
        return eos;
    }

    @Override
    public Set<Integer> eosIds() {
        return eosIds;
    }

    @Override
    public Map<String, String> specialTokens() {
        return def.specialTokens();
    }

    @Override
    public Optional<String> chatTemplate() {
        return def.chatTemplate();
    }

    @Override
    public void close() {
        var write = lock.writeLock();
        write.lock();
        try {
            cleanable.clean();
        } finally {
            write.unlock();
        }
    }

    @Override
    public String toString() {
        return "HfTokenizer[" + def.jsonFile() + ", " + vocabSize() + " ids]";
    }
}
