package io.loadstone.llamacpp.b4916;

import java.util.Map;
import java.util.Set;

import io.loadstone.llamacpp.binding.ArchitectureTable;

/**
 * The {@code general.architecture} names of b4916's {@code LLM_ARCH_NAMES} ({@code src/llama-arch.cpp}),
 * checked against the names in java-llama.cpp 4.2.0's {@code libjllama}. Only this table changes
 * when a new build is bound: a newer architecture (qwen3, llama4, ...) is simply absent here.
 */
final class B4916Architectures {

    static final ArchitectureTable TABLE = new ArchitectureTable(B4916Library.BUILD, Set.of(
            "llama", "deci", "falcon", "grok", "gpt2", "gptneox", "mpt", "baichuan", "starcoder", "refact",
            "bert", "nomic-bert", "jina-bert-v2", "bloom", "stablelm", "qwen", "qwen2", "qwen2moe", "qwen2vl",
            "phi2", "phi3", "phimoe", "plamo", "codeshell", "orion", "internlm2", "minicpm", "minicpm3", "gemma",
            "gemma2", "gemma3", "starcoder2", "mamba", "xverse", "command-r", "cohere2", "dbrx", "olmo", "olmo2",
            "olmoe", "openelm", "arctic", "deepseek", "deepseek2", "chatglm", "bitnet", "t5", "t5encoder", "jais",
            "nemotron", "exaone", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7", "granite", "granitemoe", "chameleon",
            "wavtokenizer-dec"),
            // LLM_ARCH_GPTJ has a name and hyperparameters but no tensor list and no graph in b4916:
            // llama.cpp would fail only after reading the file ("unknown architecture").
            Map.of("gptj", "this build names GPT-J but has no implementation of it (no GPT-J tensors or graph)"));

    private B4916Architectures() {
    }
}
