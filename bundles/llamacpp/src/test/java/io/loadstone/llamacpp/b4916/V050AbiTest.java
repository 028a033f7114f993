package io.loadstone.llamacpp.b4916;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

/**
 * The v0.5.0 struct layouts against the library: {@code llama_model_default_params()} and
 * {@code llama_context_default_params()} returned by value through the declared layouts, every
 * field compared with the defaults in v0.5.0's {@code src/llama-model.cpp} / {@code src/llama-context.cpp}
 * (node-llama-cpp 3.22.1's llama/gitRelease.bundle), and the sizes with {@code sizeof} there (80 and 160).
 * A field at a wrong offset reads a neighbour's default; most neighbours differ.
 */
@SuppressWarnings("restricted")
class V050AbiTest {

    private static Path library() {
        Path p = Path.of(System.getProperty("loadstone.llamacpp.v050.library", "missing"));
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException("Run through Maven: loadstone.llamacpp.v050.library=" + p);
        }
        return p;
    }

    private static long at(StructLayout l, String field) {
        return l.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    @Test
    void modelParamsDefaultsReadBackFieldByField() throws Exception {
        StructLayout l = Abi.V050_MODEL_PARAMS;
        assertEquals(80, l.byteSize());
        try (Arena arena = Arena.ofConfined()) {
            Abi abi = new Abi(SymbolLookup.libraryLookup(library(), arena), "v0.5.0", Abi.Build.V0_5_0);
            MemorySegment p = abi.modelDefaultParams(arena);
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, at(l, "devices")));
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, at(l, "tensor_buft_overrides")));
            assertEquals(-1, p.get(JAVA_INT, at(l, "n_gpu_layers")));
            assertEquals(1, p.get(JAVA_INT, at(l, "split_mode")), "LLAMA_SPLIT_MODE_LAYER");
            assertEquals(-1, p.get(JAVA_INT, at(l, "load_mode")), "LLAMA_LOAD_MODE_AUTO");
            assertEquals(1, p.get(JAVA_INT, at(l, "lazy_mode")), "LLAMA_LAZY_MODE_AUTO");
            assertEquals(0, p.get(JAVA_INT, at(l, "main_gpu")));
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, at(l, "tensor_split")));
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, at(l, "kv_overrides")));
            assertEquals(false, p.get(JAVA_BOOLEAN, at(l, "vocab_only")));
            assertEquals(false, p.get(JAVA_BOOLEAN, at(l, "check_tensors")));
            assertEquals(true, p.get(JAVA_BOOLEAN, at(l, "use_extra_bufts")));
            assertEquals(false, p.get(JAVA_BOOLEAN, at(l, "no_host")));
            assertEquals(false, p.get(JAVA_BOOLEAN, at(l, "no_alloc")));
            assertEquals(false, p.get(JAVA_BOOLEAN, at(l, "load_mtp")));
        }
    }

    @Test
    void contextParamsDefaultsReadBackFieldByField() throws Exception {
        StructLayout l = Abi.V050_CONTEXT_PARAMS;
        assertEquals(160, l.byteSize());
        try (Arena arena = Arena.ofConfined()) {
            Abi abi = new Abi(SymbolLookup.libraryLookup(library(), arena), "v0.5.0", Abi.Build.V0_5_0);
            MemorySegment p = abi.contextDefaultParams(arena);
            assertEquals(512, p.get(JAVA_INT, at(l, "n_ctx")));
            assertEquals(2048, p.get(JAVA_INT, at(l, "n_batch")));
            assertEquals(512, p.get(JAVA_INT, at(l, "n_ubatch")));
            assertEquals(1, p.get(JAVA_INT, at(l, "n_seq_max")));
            assertEquals(0, p.get(JAVA_INT, at(l, "n_rs_seq")));
            assertEquals(0, p.get(JAVA_INT, at(l, "n_outputs_max")));
            assertEquals(1, p.get(JAVA_INT, at(l, "n_outputs_max_per_seq")));
            assertEquals(4, p.get(JAVA_INT, at(l, "n_threads")), "GGML_DEFAULT_N_THREADS");
            assertEquals(4, p.get(JAVA_INT, at(l, "n_threads_batch")));
            assertEquals(0, p.get(JAVA_INT, at(l, "ctx_type")));
            assertEquals(-1, p.get(JAVA_INT, at(l, "rope_scaling_type")));
            assertEquals(-1, p.get(JAVA_INT, at(l, "pooling_type")));
            assertEquals(-1, p.get(JAVA_INT, at(l, "attention_type")));
            assertEquals(-1, p.get(JAVA_INT, at(l, "flash_attn_type")), "LLAMA_FLASH_ATTN_TYPE_AUTO");
            assertEquals(0f, p.get(JAVA_FLOAT, at(l, "rope_freq_base")));
            assertEquals(0f, p.get(JAVA_FLOAT, at(l, "rope_freq_scale")));
            assertEquals(-1f, p.get(JAVA_FLOAT, at(l, "yarn_ext_factor")));
            assertEquals(-1f, p.get(JAVA_FLOAT, at(l, "yarn_attn_factor")));
            assertEquals(-1f, p.get(JAVA_FLOAT, at(l, "yarn_beta_fast")));
            assertEquals(-1f, p.get(JAVA_FLOAT, at(l, "yarn_beta_slow")));
            assertEquals(0, p.get(JAVA_INT, at(l, "yarn_orig_ctx")));
            assertEquals(-1f, p.get(JAVA_FLOAT, at(l, "defrag_thold")));
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, at(l, "cb_eval")));
            assertEquals(1, p.get(JAVA_INT, at(l, "type_k")), "GGML_TYPE_F16");
            assertEquals(1, p.get(JAVA_INT, at(l, "type_v")));
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, at(l, "abort_callback")));
            assertEquals(false, p.get(JAVA_BOOLEAN, at(l, "embeddings")));
            assertEquals(true, p.get(JAVA_BOOLEAN, at(l, "offload_kqv")));
            assertEquals(true, p.get(JAVA_BOOLEAN, at(l, "no_perf")));
            assertEquals(true, p.get(JAVA_BOOLEAN, at(l, "op_offload")));
            assertEquals(true, p.get(JAVA_BOOLEAN, at(l, "swa_full")));
            assertEquals(false, p.get(JAVA_BOOLEAN, at(l, "kv_unified")));
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, at(l, "samplers")));
            assertEquals(0L, p.get(JAVA_LONG, at(l, "n_samplers")));
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, at(l, "ctx_other")));
        }
    }
}
