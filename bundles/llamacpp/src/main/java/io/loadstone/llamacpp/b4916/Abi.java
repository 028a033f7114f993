package io.loadstone.llamacpp.b4916;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

import io.loadstone.llamacpp.LlamaException;

/**
 * The C ABI of llama.cpp build b4916 (March 2025, as shipped in java-llama.cpp 4.2.0):
 * struct layouts checked against the disassembly of {@code llama_*_default_params} in
 * the x86_64 library, and one downcall handle per function used. Pure plumbing: each
 * method calls exactly one native function and does nothing else, so that every
 * build-specific detail is visible in this one file.
 */
// Native access is what this package is for; the JVM must run with --enable-native-access.
@SuppressWarnings("restricted")
final class Abi {

    // ---- struct layouts (b4916 include/llama.h) ----

    /** struct llama_model_params, 64 bytes. */
    static final StructLayout MODEL_PARAMS = MemoryLayout.structLayout(
            ADDRESS.withName("devices"),
            JAVA_INT.withName("n_gpu_layers"),
            JAVA_INT.withName("split_mode"),
            JAVA_INT.withName("main_gpu"),
            MemoryLayout.paddingLayout(4),
            ADDRESS.withName("tensor_split"),
            ADDRESS.withName("progress_callback"),
            ADDRESS.withName("progress_callback_user_data"),
            ADDRESS.withName("kv_overrides"),
            JAVA_BOOLEAN.withName("vocab_only"),
            JAVA_BOOLEAN.withName("use_mmap"),
            JAVA_BOOLEAN.withName("use_mlock"),
            JAVA_BOOLEAN.withName("check_tensors"),
            MemoryLayout.paddingLayout(4)).withName("llama_model_params");

    /** struct llama_context_params, 120 bytes. */
    static final StructLayout CONTEXT_PARAMS = MemoryLayout.structLayout(
            JAVA_INT.withName("n_ctx"),
            JAVA_INT.withName("n_batch"),
            JAVA_INT.withName("n_ubatch"),
            JAVA_INT.withName("n_seq_max"),
            JAVA_INT.withName("n_threads"),
            JAVA_INT.withName("n_threads_batch"),
            JAVA_INT.withName("rope_scaling_type"),
            JAVA_INT.withName("pooling_type"),
            JAVA_INT.withName("attention_type"),
            JAVA_FLOAT.withName("rope_freq_base"),
            JAVA_FLOAT.withName("rope_freq_scale"),
            JAVA_FLOAT.withName("yarn_ext_factor"),
            JAVA_FLOAT.withName("yarn_attn_factor"),
            JAVA_FLOAT.withName("yarn_beta_fast"),
            JAVA_FLOAT.withName("yarn_beta_slow"),
            JAVA_INT.withName("yarn_orig_ctx"),
            JAVA_FLOAT.withName("defrag_thold"),
            MemoryLayout.paddingLayout(4),
            ADDRESS.withName("cb_eval"),
            ADDRESS.withName("cb_eval_user_data"),
            JAVA_INT.withName("type_k"),
            JAVA_INT.withName("type_v"),
            JAVA_BOOLEAN.withName("logits_all"),
            JAVA_BOOLEAN.withName("embeddings"),
            JAVA_BOOLEAN.withName("offload_kqv"),
            JAVA_BOOLEAN.withName("flash_attn"),
            JAVA_BOOLEAN.withName("no_perf"),
            MemoryLayout.paddingLayout(3),
            ADDRESS.withName("abort_callback"),
            ADDRESS.withName("abort_callback_data")).withName("llama_context_params");

    /** struct llama_batch, 56 bytes, passed by value. */
    static final StructLayout BATCH = MemoryLayout.structLayout(
            JAVA_INT.withName("n_tokens"),
            MemoryLayout.paddingLayout(4),
            ADDRESS.withName("token"),
            ADDRESS.withName("embd"),
            ADDRESS.withName("pos"),
            ADDRESS.withName("n_seq_id"),
            ADDRESS.withName("seq_id"),
            ADDRESS.withName("logits")).withName("llama_batch");

    /** struct llama_sampler_chain_params, passed by value. */
    static final StructLayout CHAIN_PARAMS = MemoryLayout.structLayout(JAVA_BOOLEAN.withName("no_perf"))
            .withName("llama_sampler_chain_params");

    static final VarHandle MP_N_GPU_LAYERS = field(MODEL_PARAMS, "n_gpu_layers");
    static final VarHandle MP_MAIN_GPU = field(MODEL_PARAMS, "main_gpu");
    static final VarHandle MP_TENSOR_SPLIT = field(MODEL_PARAMS, "tensor_split");
    static final VarHandle MP_VOCAB_ONLY = field(MODEL_PARAMS, "vocab_only");
    static final VarHandle MP_USE_MMAP = field(MODEL_PARAMS, "use_mmap");
    static final VarHandle MP_USE_MLOCK = field(MODEL_PARAMS, "use_mlock");
    static final VarHandle MP_CHECK_TENSORS = field(MODEL_PARAMS, "check_tensors");

    static final VarHandle CP_N_CTX = field(CONTEXT_PARAMS, "n_ctx");
    static final VarHandle CP_N_BATCH = field(CONTEXT_PARAMS, "n_batch");
    static final VarHandle CP_N_UBATCH = field(CONTEXT_PARAMS, "n_ubatch");
    static final VarHandle CP_N_SEQ_MAX = field(CONTEXT_PARAMS, "n_seq_max");
    static final VarHandle CP_N_THREADS = field(CONTEXT_PARAMS, "n_threads");
    static final VarHandle CP_N_THREADS_BATCH = field(CONTEXT_PARAMS, "n_threads_batch");
    static final VarHandle CP_ROPE_FREQ_BASE = field(CONTEXT_PARAMS, "rope_freq_base");
    static final VarHandle CP_ROPE_FREQ_SCALE = field(CONTEXT_PARAMS, "rope_freq_scale");
    static final VarHandle CP_TYPE_K = field(CONTEXT_PARAMS, "type_k");
    static final VarHandle CP_TYPE_V = field(CONTEXT_PARAMS, "type_v");
    static final VarHandle CP_LOGITS_ALL = field(CONTEXT_PARAMS, "logits_all");
    static final VarHandle CP_EMBEDDINGS = field(CONTEXT_PARAMS, "embeddings");
    static final VarHandle CP_FLASH_ATTN = field(CONTEXT_PARAMS, "flash_attn");
    static final VarHandle CP_NO_PERF = field(CONTEXT_PARAMS, "no_perf");

    static final VarHandle B_N_TOKENS = field(BATCH, "n_tokens");
    static final VarHandle B_TOKEN = field(BATCH, "token");
    static final VarHandle B_EMBD = field(BATCH, "embd");
    static final VarHandle B_POS = field(BATCH, "pos");
    static final VarHandle B_N_SEQ_ID = field(BATCH, "n_seq_id");
    static final VarHandle B_SEQ_ID = field(BATCH, "seq_id");
    static final VarHandle B_LOGITS = field(BATCH, "logits");

    /** ggml_log_callback: void (*)(enum ggml_log_level level, const char * text, void * user_data). */
    static final FunctionDescriptor LOG_CALLBACK = FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, ADDRESS);

    /** LLAMA_DEFAULT_SEED: llama.cpp draws a random seed. */
    static final int DEFAULT_SEED = 0xFFFFFFFF;

    /** GGML_NUMA_STRATEGY_DISTRIBUTE. */
    static final int NUMA_DISTRIBUTE = 1;

    private static VarHandle field(StructLayout layout, String name) {
        // The extra leading coordinate of a VarHandle from a layout is the base offset; fix it at 0.
        return java.lang.invoke.MethodHandles.insertCoordinates(
                layout.varHandle(MemoryLayout.PathElement.groupElement(name)), 1, 0L);
    }

    // ---- downcall handles ----

    private final MethodHandle backendInit;
    private final MethodHandle logSet;
    private final MethodHandle supportsGpuOffload;
    private final MethodHandle supportsMmap;
    private final MethodHandle supportsMlock;
    private final MethodHandle maxDevices;
    private final MethodHandle printSystemInfo;
    private final MethodHandle numaInit;
    private final MethodHandle modelDefaultParams;
    private final MethodHandle contextDefaultParams;
    private final MethodHandle chainDefaultParams;
    private final MethodHandle modelLoadFromFile;
    private final MethodHandle modelFree;
    private final MethodHandle initFromModel;
    private final MethodHandle free;
    private final MethodHandle modelGetVocab;
    private final MethodHandle vocabNTokens;
    private final MethodHandle vocabBos;
    private final MethodHandle vocabEos;
    private final MethodHandle vocabIsEog;
    private final MethodHandle vocabGetAddBos;
    private final MethodHandle tokenize;
    private final MethodHandle tokenToPiece;
    private final MethodHandle detokenize;
    private final MethodHandle nCtx;
    private final MethodHandle nBatch;
    private final MethodHandle modelNCtxTrain;
    private final MethodHandle modelDesc;
    private final MethodHandle modelNParams;
    private final MethodHandle modelSize;
    private final MethodHandle metaValStr;
    private final MethodHandle metaCount;
    private final MethodHandle metaKeyByIndex;
    private final MethodHandle metaValStrByIndex;
    private final MethodHandle modelChatTemplate;
    private final MethodHandle decode;
    private final MethodHandle getLogitsIth;
    private final MethodHandle kvSelfClear;
    private final MethodHandle kvSelfSeqRm;
    private final MethodHandle chainInit;
    private final MethodHandle chainAdd;
    private final MethodHandle samplerGreedy;
    private final MethodHandle samplerDist;
    private final MethodHandle samplerTopK;
    private final MethodHandle samplerTopP;
    private final MethodHandle samplerMinP;
    private final MethodHandle samplerTypical;
    private final MethodHandle samplerTemp;
    private final MethodHandle samplerPenalties;
    private final MethodHandle samplerMirostat;
    private final MethodHandle samplerMirostatV2;
    private final MethodHandle samplerLogitBias;
    private final MethodHandle samplerSample;
    private final MethodHandle samplerAccept;
    private final MethodHandle samplerReset;
    private final MethodHandle samplerFree;
    private final MethodHandle loraInit;
    private final MethodHandle loraFree;
    private final MethodHandle setAdapterLora;
    private final MethodHandle rmAdapterLora;
    private final MethodHandle clearAdapterLora;

    private final Linker linker = Linker.nativeLinker();
    private final SymbolLookup lookup;
    private final List<String> missing = new ArrayList<>();

    /**
     * Binds every function this binding uses; a library that lacks any of them is refused
     * with the list of missing names (a fragment that announces the wrong build).
     */
    Abi(SymbolLookup lookup, String libraryName) throws LlamaException {
        this.lookup = lookup;
        backendInit = bind("llama_backend_init", FunctionDescriptor.ofVoid());
        logSet = bind("llama_log_set", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
        supportsGpuOffload = bind("llama_supports_gpu_offload", FunctionDescriptor.of(JAVA_BOOLEAN));
        supportsMmap = bind("llama_supports_mmap", FunctionDescriptor.of(JAVA_BOOLEAN));
        supportsMlock = bind("llama_supports_mlock", FunctionDescriptor.of(JAVA_BOOLEAN));
        maxDevices = bind("llama_max_devices", FunctionDescriptor.of(JAVA_LONG));
        printSystemInfo = bind("llama_print_system_info", FunctionDescriptor.of(ADDRESS));
        numaInit = bind("llama_numa_init", FunctionDescriptor.ofVoid(JAVA_INT));
        modelDefaultParams = bind("llama_model_default_params", FunctionDescriptor.of(MODEL_PARAMS));
        contextDefaultParams = bind("llama_context_default_params", FunctionDescriptor.of(CONTEXT_PARAMS));
        chainDefaultParams = bind("llama_sampler_chain_default_params", FunctionDescriptor.of(CHAIN_PARAMS));
        modelLoadFromFile = bind("llama_model_load_from_file", FunctionDescriptor.of(ADDRESS, ADDRESS, MODEL_PARAMS));
        modelFree = bind("llama_model_free", FunctionDescriptor.ofVoid(ADDRESS));
        initFromModel = bind("llama_init_from_model", FunctionDescriptor.of(ADDRESS, ADDRESS, CONTEXT_PARAMS));
        free = bind("llama_free", FunctionDescriptor.ofVoid(ADDRESS));
        modelGetVocab = bind("llama_model_get_vocab", FunctionDescriptor.of(ADDRESS, ADDRESS));
        vocabNTokens = bind("llama_vocab_n_tokens", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        vocabBos = bind("llama_vocab_bos", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        vocabEos = bind("llama_vocab_eos", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        vocabIsEog = bind("llama_vocab_is_eog", FunctionDescriptor.of(JAVA_BOOLEAN, ADDRESS, JAVA_INT));
        vocabGetAddBos = bind("llama_vocab_get_add_bos", FunctionDescriptor.of(JAVA_BOOLEAN, ADDRESS));
        tokenize = bind("llama_tokenize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS,
                JAVA_INT, JAVA_BOOLEAN, JAVA_BOOLEAN));
        tokenToPiece = bind("llama_token_to_piece", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS,
                JAVA_INT, JAVA_INT, JAVA_BOOLEAN));
        detokenize = bind("llama_detokenize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS,
                JAVA_INT, JAVA_BOOLEAN, JAVA_BOOLEAN));
        nCtx = bind("llama_n_ctx", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        nBatch = bind("llama_n_batch", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        modelNCtxTrain = bind("llama_model_n_ctx_train", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        modelDesc = bind("llama_model_desc", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
        modelNParams = bind("llama_model_n_params", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        modelSize = bind("llama_model_size", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        metaValStr = bind("llama_model_meta_val_str", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
                JAVA_LONG));
        metaCount = bind("llama_model_meta_count", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        metaKeyByIndex = bind("llama_model_meta_key_by_index", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT,
                ADDRESS, JAVA_LONG));
        metaValStrByIndex = bind("llama_model_meta_val_str_by_index", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                JAVA_INT, ADDRESS, JAVA_LONG));
        modelChatTemplate = bind("llama_model_chat_template", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
        decode = bind("llama_decode", FunctionDescriptor.of(JAVA_INT, ADDRESS, BATCH));
        getLogitsIth = bind("llama_get_logits_ith", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        kvSelfClear = bind("llama_kv_self_clear", FunctionDescriptor.ofVoid(ADDRESS));
        kvSelfSeqRm = bind("llama_kv_self_seq_rm", FunctionDescriptor.of(JAVA_BOOLEAN, ADDRESS, JAVA_INT, JAVA_INT,
                JAVA_INT));
        chainInit = bind("llama_sampler_chain_init", FunctionDescriptor.of(ADDRESS, CHAIN_PARAMS));
        chainAdd = bind("llama_sampler_chain_add", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
        samplerGreedy = bind("llama_sampler_init_greedy", FunctionDescriptor.of(ADDRESS));
        samplerDist = bind("llama_sampler_init_dist", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        samplerTopK = bind("llama_sampler_init_top_k", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        samplerTopP = bind("llama_sampler_init_top_p", FunctionDescriptor.of(ADDRESS, JAVA_FLOAT, JAVA_LONG));
        samplerMinP = bind("llama_sampler_init_min_p", FunctionDescriptor.of(ADDRESS, JAVA_FLOAT, JAVA_LONG));
        samplerTypical = bind("llama_sampler_init_typical", FunctionDescriptor.of(ADDRESS, JAVA_FLOAT, JAVA_LONG));
        samplerTemp = bind("llama_sampler_init_temp", FunctionDescriptor.of(ADDRESS, JAVA_FLOAT));
        samplerPenalties = bind("llama_sampler_init_penalties", FunctionDescriptor.of(ADDRESS, JAVA_INT, JAVA_FLOAT,
                JAVA_FLOAT, JAVA_FLOAT));
        samplerMirostat = bind("llama_sampler_init_mirostat", FunctionDescriptor.of(ADDRESS, JAVA_INT, JAVA_INT,
                JAVA_FLOAT, JAVA_FLOAT, JAVA_INT));
        samplerMirostatV2 = bind("llama_sampler_init_mirostat_v2", FunctionDescriptor.of(ADDRESS, JAVA_INT,
                JAVA_FLOAT, JAVA_FLOAT));
        samplerLogitBias = bind("llama_sampler_init_logit_bias", FunctionDescriptor.of(ADDRESS, JAVA_INT, JAVA_INT,
                ADDRESS));
        samplerSample = bind("llama_sampler_sample", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        samplerAccept = bind("llama_sampler_accept", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT));
        samplerReset = bind("llama_sampler_reset", FunctionDescriptor.ofVoid(ADDRESS));
        samplerFree = bind("llama_sampler_free", FunctionDescriptor.ofVoid(ADDRESS));
        loraInit = bind("llama_adapter_lora_init", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
        loraFree = bind("llama_adapter_lora_free", FunctionDescriptor.ofVoid(ADDRESS));
        setAdapterLora = bind("llama_set_adapter_lora", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
                JAVA_FLOAT));
        rmAdapterLora = bind("llama_rm_adapter_lora", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        clearAdapterLora = bind("llama_clear_adapter_lora", FunctionDescriptor.ofVoid(ADDRESS));
        if (!missing.isEmpty()) {
            throw new LlamaException("The native library " + libraryName + " lacks " + missing.size()
                    + " function(s) of llama.cpp build b4916: " + missing + ". The fragment's Loadstone-Native-Build "
                    + "header does not match the library it carries; rebuild or replace that fragment.");
        }
    }

    private MethodHandle bind(String name, FunctionDescriptor fd) {
        return lookup.find(name).map(addr -> linker.downcallHandle(addr, fd)).orElseGet(() -> {
            missing.add(name);
            return null;
        });
    }

    /** An upcall stub for a ggml_log_callback, living as long as {@code arena}. */
    MemorySegment logCallbackStub(MethodHandle target, Arena arena) {
        return linker.upcallStub(target, LOG_CALLBACK, arena);
    }

    private static RuntimeException fail(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    // ---- library ----

    void backendInit() {
        try {
            backendInit.invokeExact();
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    void logSet(MemorySegment callback, MemorySegment userData) {
        try {
            logSet.invokeExact(callback, userData);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    boolean supportsGpuOffload() {
        try {
            return (boolean) supportsGpuOffload.invokeExact();
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    boolean supportsMmap() {
        try {
            return (boolean) supportsMmap.invokeExact();
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    boolean supportsMlock() {
        try {
            return (boolean) supportsMlock.invokeExact();
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    long maxDevices() {
        try {
            return (long) maxDevices.invokeExact();
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment printSystemInfo() {
        try {
            return (MemorySegment) printSystemInfo.invokeExact();
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    void numaInit(int strategy) {
        try {
            numaInit.invokeExact(strategy);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment modelDefaultParams(SegmentAllocator alloc) {
        try {
            return (MemorySegment) modelDefaultParams.invokeExact(alloc);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment contextDefaultParams(SegmentAllocator alloc) {
        try {
            return (MemorySegment) contextDefaultParams.invokeExact(alloc);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment chainDefaultParams(SegmentAllocator alloc) {
        try {
            return (MemorySegment) chainDefaultParams.invokeExact(alloc);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    // ---- model and context ----

    MemorySegment modelLoadFromFile(MemorySegment path, MemorySegment params) {
        try {
            return (MemorySegment) modelLoadFromFile.invokeExact(path, params);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    void modelFree(MemorySegment model) {
        try {
            modelFree.invokeExact(model);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment initFromModel(MemorySegment model, MemorySegment params) {
        try {
            return (MemorySegment) initFromModel.invokeExact(model, params);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    void free(MemorySegment ctx) {
        try {
            free.invokeExact(ctx);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment modelGetVocab(MemorySegment model) {
        try {
            return (MemorySegment) modelGetVocab.invokeExact(model);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int nCtx(MemorySegment ctx) {
        try {
            return (int) nCtx.invokeExact(ctx);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int nBatch(MemorySegment ctx) {
        try {
            return (int) nBatch.invokeExact(ctx);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int modelNCtxTrain(MemorySegment model) {
        try {
            return (int) modelNCtxTrain.invokeExact(model);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int modelDesc(MemorySegment model, MemorySegment buf, long size) {
        try {
            return (int) modelDesc.invokeExact(model, buf, size);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    long modelNParams(MemorySegment model) {
        try {
            return (long) modelNParams.invokeExact(model);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    long modelSize(MemorySegment model) {
        try {
            return (long) modelSize.invokeExact(model);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int metaValStr(MemorySegment model, MemorySegment key, MemorySegment buf, long size) {
        try {
            return (int) metaValStr.invokeExact(model, key, buf, size);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int metaCount(MemorySegment model) {
        try {
            return (int) metaCount.invokeExact(model);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int metaKeyByIndex(MemorySegment model, int i, MemorySegment buf, long size) {
        try {
            return (int) metaKeyByIndex.invokeExact(model, i, buf, size);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int metaValStrByIndex(MemorySegment model, int i, MemorySegment buf, long size) {
        try {
            return (int) metaValStrByIndex.invokeExact(model, i, buf, size);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment modelChatTemplate(MemorySegment model, MemorySegment name) {
        try {
            return (MemorySegment) modelChatTemplate.invokeExact(model, name);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    // ---- vocabulary ----

    int vocabNTokens(MemorySegment vocab) {
        try {
            return (int) vocabNTokens.invokeExact(vocab);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int vocabBos(MemorySegment vocab) {
        try {
            return (int) vocabBos.invokeExact(vocab);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int vocabEos(MemorySegment vocab) {
        try {
            return (int) vocabEos.invokeExact(vocab);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    boolean vocabIsEog(MemorySegment vocab, int token) {
        try {
            return (boolean) vocabIsEog.invokeExact(vocab, token);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    boolean vocabGetAddBos(MemorySegment vocab) {
        try {
            return (boolean) vocabGetAddBos.invokeExact(vocab);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int tokenize(MemorySegment vocab, MemorySegment text, int textLen, MemorySegment tokens, int max,
            boolean addSpecial, boolean parseSpecial) {
        try {
            return (int) tokenize.invokeExact(vocab, text, textLen, tokens, max, addSpecial, parseSpecial);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int tokenToPiece(MemorySegment vocab, int token, MemorySegment buf, int length, int lstrip, boolean special) {
        try {
            return (int) tokenToPiece.invokeExact(vocab, token, buf, length, lstrip, special);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int detokenize(MemorySegment vocab, MemorySegment tokens, int n, MemorySegment text, int max,
            boolean removeSpecial, boolean unparseSpecial) {
        try {
            return (int) detokenize.invokeExact(vocab, tokens, n, text, max, removeSpecial, unparseSpecial);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    // ---- evaluation ----

    int decode(MemorySegment ctx, MemorySegment batch) {
        try {
            return (int) decode.invokeExact(ctx, batch);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment getLogitsIth(MemorySegment ctx, int i) {
        try {
            return (MemorySegment) getLogitsIth.invokeExact(ctx, i);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    void kvSelfClear(MemorySegment ctx) {
        try {
            kvSelfClear.invokeExact(ctx);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    boolean kvSelfSeqRm(MemorySegment ctx, int seq, int p0, int p1) {
        try {
            return (boolean) kvSelfSeqRm.invokeExact(ctx, seq, p0, p1);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    // ---- samplers ----

    MemorySegment chainInit(MemorySegment params) {
        try {
            return (MemorySegment) chainInit.invokeExact(params);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    void chainAdd(MemorySegment chain, MemorySegment sampler) {
        try {
            chainAdd.invokeExact(chain, sampler);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment samplerGreedy() {
        try {
            return (MemorySegment) samplerGreedy.invokeExact();
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment samplerDist(int seed) {
        try {
            return (MemorySegment) samplerDist.invokeExact(seed);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment samplerTopK(int k) {
        try {
            return (MemorySegment) samplerTopK.invokeExact(k);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment samplerTopP(float p, long minKeep) {
        try {
            return (MemorySegment) samplerTopP.invokeExact(p, minKeep);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment samplerMinP(float p, long minKeep) {
        try {
            return (MemorySegment) samplerMinP.invokeExact(p, minKeep);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment samplerTypical(float p, long minKeep) {
        try {
            return (MemorySegment) samplerTypical.invokeExact(p, minKeep);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment samplerTemp(float t) {
        try {
            return (MemorySegment) samplerTemp.invokeExact(t);
        } catch (Throwable e) {
            throw fail(e);
        }
    }

    MemorySegment samplerPenalties(int lastN, float repeat, float freq, float present) {
        try {
            return (MemorySegment) samplerPenalties.invokeExact(lastN, repeat, freq, present);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment samplerMirostat(int nVocab, int seed, float tau, float eta, int m) {
        try {
            return (MemorySegment) samplerMirostat.invokeExact(nVocab, seed, tau, eta, m);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    MemorySegment samplerMirostatV2(int seed, float tau, float eta) {
        try {
            return (MemorySegment) samplerMirostatV2.invokeExact(seed, tau, eta);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    /** {@code biases}: n_logit_bias struct llama_logit_bias { int32 token; float bias; } (copied by llama.cpp). */
    MemorySegment samplerLogitBias(int nVocab, int nBias, MemorySegment biases) {
        try {
            return (MemorySegment) samplerLogitBias.invokeExact(nVocab, nBias, biases);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int samplerSample(MemorySegment sampler, MemorySegment ctx, int idx) {
        try {
            return (int) samplerSample.invokeExact(sampler, ctx, idx);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    void samplerAccept(MemorySegment sampler, int token) {
        try {
            samplerAccept.invokeExact(sampler, token);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    void samplerReset(MemorySegment sampler) {
        try {
            samplerReset.invokeExact(sampler);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    void samplerFree(MemorySegment sampler) {
        try {
            samplerFree.invokeExact(sampler);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    // ---- LoRA ----

    MemorySegment loraInit(MemorySegment model, MemorySegment path) {
        try {
            return (MemorySegment) loraInit.invokeExact(model, path);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    void loraFree(MemorySegment adapter) {
        try {
            loraFree.invokeExact(adapter);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int setAdapterLora(MemorySegment ctx, MemorySegment adapter, float scale) {
        try {
            return (int) setAdapterLora.invokeExact(ctx, adapter, scale);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    int rmAdapterLora(MemorySegment ctx, MemorySegment adapter) {
        try {
            return (int) rmAdapterLora.invokeExact(ctx, adapter);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    void clearAdapterLora(MemorySegment ctx) {
        try {
            clearAdapterLora.invokeExact(ctx);
        } catch (Throwable t) {
            throw fail(t);
        }
    }
}
