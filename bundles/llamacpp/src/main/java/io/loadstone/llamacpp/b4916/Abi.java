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
 * The C ABI of llama.cpp build b4916 (March 2025, as shipped in java-llama.cpp 4.2.0) and of
 * v0.5.0 (2026-09, node-llama-cpp 3.22.1's prebuilt libraries): struct layouts checked against
 * {@code llama_*_default_params} of each library, and one downcall handle per function used.
 * Plumbing: each method calls one native function, except where v0.5.0 replaced a call
 * (KV cache: {@code llama_memory_*}; LoRA: {@code llama_set_adapters_lora}), so that every
 * build-specific detail is visible in this one file and the model code above it is shared.
 */
// Native access is what this package is for; the JVM must run with --enable-native-access.
@SuppressWarnings("restricted")
final class Abi {

    /** The C API versions this class binds; what a fragment's Loadstone-Native-Build names. */
    enum Build {
        B4916("llama.cpp-b4916"),
        V0_5_0("llama.cpp-v0.5.0");

        final String buildName;

        Build(String buildName) {
            this.buildName = buildName;
        }
    }

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

    // ---- struct layouts (v0.5.0 include/llama.h) ----

    /** struct llama_model_params of v0.5.0, 80 bytes: use_mmap/use_mlock became enum load_mode. */
    static final StructLayout V050_MODEL_PARAMS = MemoryLayout.structLayout(
            ADDRESS.withName("devices"),
            ADDRESS.withName("tensor_buft_overrides"),
            JAVA_INT.withName("n_gpu_layers"),
            JAVA_INT.withName("split_mode"),
            JAVA_INT.withName("load_mode"),
            JAVA_INT.withName("lazy_mode"),
            JAVA_INT.withName("main_gpu"),
            MemoryLayout.paddingLayout(4),
            ADDRESS.withName("tensor_split"),
            ADDRESS.withName("progress_callback"),
            ADDRESS.withName("progress_callback_user_data"),
            ADDRESS.withName("kv_overrides"),
            JAVA_BOOLEAN.withName("vocab_only"),
            JAVA_BOOLEAN.withName("check_tensors"),
            JAVA_BOOLEAN.withName("use_extra_bufts"),
            JAVA_BOOLEAN.withName("no_host"),
            JAVA_BOOLEAN.withName("no_alloc"),
            JAVA_BOOLEAN.withName("load_mtp"),
            MemoryLayout.paddingLayout(2)).withName("llama_model_params");

    /** struct llama_context_params of v0.5.0, 160 bytes: flash_attn became enum flash_attn_type, logits_all is gone. */
    static final StructLayout V050_CONTEXT_PARAMS = MemoryLayout.structLayout(
            JAVA_INT.withName("n_ctx"),
            JAVA_INT.withName("n_batch"),
            JAVA_INT.withName("n_ubatch"),
            JAVA_INT.withName("n_seq_max"),
            JAVA_INT.withName("n_rs_seq"),
            JAVA_INT.withName("n_outputs_max"),
            JAVA_INT.withName("n_outputs_max_per_seq"),
            JAVA_INT.withName("n_threads"),
            JAVA_INT.withName("n_threads_batch"),
            JAVA_INT.withName("ctx_type"),
            JAVA_INT.withName("rope_scaling_type"),
            JAVA_INT.withName("pooling_type"),
            JAVA_INT.withName("attention_type"),
            JAVA_INT.withName("flash_attn_type"),
            JAVA_FLOAT.withName("rope_freq_base"),
            JAVA_FLOAT.withName("rope_freq_scale"),
            JAVA_FLOAT.withName("yarn_ext_factor"),
            JAVA_FLOAT.withName("yarn_attn_factor"),
            JAVA_FLOAT.withName("yarn_beta_fast"),
            JAVA_FLOAT.withName("yarn_beta_slow"),
            JAVA_INT.withName("yarn_orig_ctx"),
            JAVA_FLOAT.withName("defrag_thold"),
            ADDRESS.withName("cb_eval"),
            ADDRESS.withName("cb_eval_user_data"),
            JAVA_INT.withName("type_k"),
            JAVA_INT.withName("type_v"),
            ADDRESS.withName("abort_callback"),
            ADDRESS.withName("abort_callback_data"),
            JAVA_BOOLEAN.withName("embeddings"),
            JAVA_BOOLEAN.withName("offload_kqv"),
            JAVA_BOOLEAN.withName("no_perf"),
            JAVA_BOOLEAN.withName("op_offload"),
            JAVA_BOOLEAN.withName("swa_full"),
            JAVA_BOOLEAN.withName("kv_unified"),
            MemoryLayout.paddingLayout(2),
            ADDRESS.withName("samplers"),
            JAVA_LONG.withName("n_samplers"),
            ADDRESS.withName("ctx_other")).withName("llama_context_params");

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

    private final Build build;
    private final StructLayout modelParamsLayout;
    private final StructLayout contextParamsLayout;

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
    /** b4916: llama_kv_self_clear / _seq_rm; v0.5.0: llama_memory_clear / _seq_rm on llama_get_memory. */
    private final MethodHandle kvSelfClear;
    private final MethodHandle kvSelfSeqRm;
    private final MethodHandle getMemory;
    /** v0.5.0: ggml_backend_load_all_from_path (the CPU variants are separate libraries). */
    private final MethodHandle loadBackends;
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
    /** b4916: llama_set_adapter_lora; v0.5.0: llama_set_adapters_lora (the whole set at once). */
    private final MethodHandle setAdapterLora;
    private final MethodHandle clearAdapterLora;

    private final Linker linker = Linker.nativeLinker();
    private final SymbolLookup lookup;
    private final List<String> missing = new ArrayList<>();

    /**
     * Binds every function this binding uses; a library that lacks any of them is refused
     * with the list of missing names (a fragment that announces the wrong build).
     */
    Abi(SymbolLookup lookup, String libraryName, Build build) throws LlamaException {
        this.lookup = lookup;
        this.build = build;
        boolean v050 = build == Build.V0_5_0;
        modelParamsLayout = v050 ? V050_MODEL_PARAMS : MODEL_PARAMS;
        contextParamsLayout = v050 ? V050_CONTEXT_PARAMS : CONTEXT_PARAMS;
        backendInit = bind("llama_backend_init", FunctionDescriptor.ofVoid());
        logSet = bind("llama_log_set", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
        supportsGpuOffload = bind("llama_supports_gpu_offload", FunctionDescriptor.of(JAVA_BOOLEAN));
        supportsMmap = bind("llama_supports_mmap", FunctionDescriptor.of(JAVA_BOOLEAN));
        supportsMlock = bind("llama_supports_mlock", FunctionDescriptor.of(JAVA_BOOLEAN));
        maxDevices = bind("llama_max_devices", FunctionDescriptor.of(JAVA_LONG));
        printSystemInfo = bind("llama_print_system_info", FunctionDescriptor.of(ADDRESS));
        numaInit = bind("llama_numa_init", FunctionDescriptor.ofVoid(JAVA_INT));
        modelDefaultParams = bind("llama_model_default_params", FunctionDescriptor.of(modelParamsLayout));
        contextDefaultParams = bind("llama_context_default_params", FunctionDescriptor.of(contextParamsLayout));
        chainDefaultParams = bind("llama_sampler_chain_default_params", FunctionDescriptor.of(CHAIN_PARAMS));
        modelLoadFromFile = bind("llama_model_load_from_file", FunctionDescriptor.of(ADDRESS, ADDRESS, modelParamsLayout));
        modelFree = bind("llama_model_free", FunctionDescriptor.ofVoid(ADDRESS));
        initFromModel = bind("llama_init_from_model", FunctionDescriptor.of(ADDRESS, ADDRESS, contextParamsLayout));
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
        kvSelfClear = v050 ? bind("llama_memory_clear", FunctionDescriptor.ofVoid(ADDRESS, JAVA_BOOLEAN))
                : bind("llama_kv_self_clear", FunctionDescriptor.ofVoid(ADDRESS));
        kvSelfSeqRm = bind(v050 ? "llama_memory_seq_rm" : "llama_kv_self_seq_rm", FunctionDescriptor.of(JAVA_BOOLEAN,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT));
        getMemory = v050 ? bind("llama_get_memory", FunctionDescriptor.of(ADDRESS, ADDRESS)) : null;
        loadBackends = v050 ? bind("ggml_backend_load_all_from_path", FunctionDescriptor.ofVoid(ADDRESS)) : null;
        chainInit = bind("llama_sampler_chain_init", FunctionDescriptor.of(ADDRESS, CHAIN_PARAMS));
        chainAdd = bind("llama_sampler_chain_add", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
        samplerGreedy = bind("llama_sampler_init_greedy", FunctionDescriptor.of(ADDRESS));
        samplerDist = bind("llama_sampler_init_dist", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        samplerTopK = bind("llama_sampler_init_top_k", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        samplerTopP = bind("llama_sampler_init_top_p", FunctionDescriptor.of(ADDRESS, JAVA_FLOAT, JAVA_LONG));
        samplerMinP = bind("llama_sampler_init_min_p", FunctionDescriptor.of(ADDRESS, JAVA_FLOAT, JAVA_LONG));
        samplerTypical = bind("llama_sampler_init_typical", FunctionDescriptor.of(ADDRESS, JAVA_FLOAT, JAVA_LONG));
        samplerTemp = bind("llama_sampler_init_temp", FunctionDescriptor.of(ADDRESS, JAVA_FLOAT));
        // v0.5.0 takes n_vocab first.
        samplerPenalties = bind("llama_sampler_init_penalties", v050
                ? FunctionDescriptor.of(ADDRESS, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT)
                : FunctionDescriptor.of(ADDRESS, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT));
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
        setAdapterLora = v050
                ? bind("llama_set_adapters_lora", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS))
                : bind("llama_set_adapter_lora", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_FLOAT));
        clearAdapterLora = v050 ? null : bind("llama_clear_adapter_lora", FunctionDescriptor.ofVoid(ADDRESS));
        if (!missing.isEmpty()) {
            throw new LlamaException("The native library " + libraryName + " lacks " + missing.size()
                    + " function(s) of " + build.buildName + ": " + missing + ". The fragment's Loadstone-Native-Build "
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

    Build build() {
        return build;
    }

    private static long offset(StructLayout layout, String name) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(name));
    }

    /**
     * llama_model_default_params() with the fields we choose set. {@code split}: NULL, or
     * llama_max_devices() floats.
     */
    MemorySegment modelParams(SegmentAllocator alloc, int gpuLayers, int mainGpu, boolean mmap, boolean mlock,
            boolean vocabOnly, boolean checkTensors, MemorySegment split) {
        MemorySegment p = modelDefaultParams(alloc);
        StructLayout l = modelParamsLayout;
        p.set(JAVA_INT, offset(l, "n_gpu_layers"), gpuLayers);
        p.set(JAVA_INT, offset(l, "main_gpu"), mainGpu);
        p.set(JAVA_BOOLEAN, offset(l, "vocab_only"), vocabOnly);
        p.set(JAVA_BOOLEAN, offset(l, "check_tensors"), checkTensors);
        if (build == Build.V0_5_0) {
            // enum llama_load_mode: NONE 0, MMAP 1, MLOCK 2, MMAP_MLOCK 3 (AUTO -1 is the default we override).
            p.set(JAVA_INT, offset(l, "load_mode"), (mmap ? 1 : 0) | (mlock ? 2 : 0));
        } else {
            p.set(JAVA_BOOLEAN, offset(l, "use_mmap"), mmap);
            p.set(JAVA_BOOLEAN, offset(l, "use_mlock"), mlock);
        }
        if (split.address() != 0) {
            p.set(ADDRESS, offset(l, "tensor_split"), split);
        }
        return p;
    }

    /** llama_context_default_params() with the fields we choose set; {@code typeK}/{@code typeV} are ggml_type ids. */
    MemorySegment contextParams(SegmentAllocator alloc, io.loadstone.llamacpp.ContextParams cp, int typeK, int typeV) {
        MemorySegment p = contextDefaultParams(alloc);
        StructLayout l = contextParamsLayout;
        p.set(JAVA_INT, offset(l, "n_ctx"), cp.nCtx());
        p.set(JAVA_INT, offset(l, "n_batch"), cp.nBatch());
        p.set(JAVA_INT, offset(l, "n_ubatch"), cp.nUbatch() > 0 ? cp.nUbatch() : Math.min(cp.nBatch(), 512));
        p.set(JAVA_INT, offset(l, "n_seq_max"), 1);
        p.set(JAVA_INT, offset(l, "n_threads"), cp.effectiveThreads());
        p.set(JAVA_INT, offset(l, "n_threads_batch"), cp.effectiveThreadsBatch());
        p.set(JAVA_FLOAT, offset(l, "rope_freq_base"), cp.ropeFreqBase());
        p.set(JAVA_FLOAT, offset(l, "rope_freq_scale"), cp.ropeFreqScale());
        p.set(JAVA_INT, offset(l, "type_k"), typeK);
        p.set(JAVA_INT, offset(l, "type_v"), typeV);
        p.set(JAVA_BOOLEAN, offset(l, "embeddings"), false);
        p.set(JAVA_BOOLEAN, offset(l, "no_perf"), true);
        if (build == Build.V0_5_0) {
            // enum llama_flash_attn_type: DISABLED 0, ENABLED 1; the default AUTO (-1) would make results
            // depend on the backend, so the option decides.
            p.set(JAVA_INT, offset(l, "flash_attn_type"), cp.flashAttention() ? 1 : 0);
        } else {
            p.set(JAVA_BOOLEAN, offset(l, "logits_all"), false);
            p.set(JAVA_BOOLEAN, offset(l, "flash_attn"), cp.flashAttention());
        }
        return p;
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

    /** v0.5.0: registers the backends (one libggml-cpu-variant per CPU family) found in {@code dir}; b4916 has them built in. */
    void loadBackends(MemorySegment dir) {
        if (loadBackends == null) {
            return;
        }
        try {
            loadBackends.invokeExact(dir);
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
            if (getMemory != null) {
                kvSelfClear.invokeExact((MemorySegment) getMemory.invokeExact(ctx), true);
                return;
            }
            kvSelfClear.invokeExact(ctx);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    boolean kvSelfSeqRm(MemorySegment ctx, int seq, int p0, int p1) {
        try {
            MemorySegment target = getMemory == null ? ctx : (MemorySegment) getMemory.invokeExact(ctx);
            return (boolean) kvSelfSeqRm.invokeExact(target, seq, p0, p1);
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

    MemorySegment samplerPenalties(int nVocab, int lastN, float repeat, float freq, float present) {
        try {
            if (build == Build.V0_5_0) {
                return (MemorySegment) samplerPenalties.invokeExact(nVocab, lastN, repeat, freq, present);
            }
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

    /**
     * Makes {@code adapters} (with {@code scales}) the exact set of LoRA adapters active on {@code ctx}.
     * Returns 0, or llama.cpp's error code.
     */
    int setAdapters(MemorySegment ctx, List<MemorySegment> adapters, float[] scales) {
        try {
            if (build == Build.V0_5_0) {
                try (Arena tmp = Arena.ofConfined()) {
                    MemorySegment ptrs = tmp.allocate(ADDRESS, Math.max(1, adapters.size()));
                    MemorySegment sc = tmp.allocate(JAVA_FLOAT, Math.max(1, adapters.size()));
                    for (int i = 0; i < adapters.size(); i++) {
                        ptrs.setAtIndex(ADDRESS, i, adapters.get(i));
                        sc.setAtIndex(JAVA_FLOAT, i, scales[i]);
                    }
                    return (int) setAdapterLora.invokeExact(ctx, ptrs, (long) adapters.size(), sc);
                }
            }
            clearAdapterLora.invokeExact(ctx);
            for (int i = 0; i < adapters.size(); i++) {
                int rc = (int) setAdapterLora.invokeExact(ctx, adapters.get(i), scales[i]);
                if (rc != 0) {
                    return rc;
                }
            }
            return 0;
        } catch (Throwable t) {
            throw fail(t);
        }
    }
}
