package io.loadstone.llamacpp.loading;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.gguf.GgufFile;
import io.loadstone.gguf.GgufWriter;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.binding.ArchitectureTable;
import io.loadstone.llamacpp.binding.NativeBindings;
import io.loadstone.natives.Platform;
import io.loadstone.testsupport.NativeLibraries;
import io.loadstone.testsupport.SharedModels;

/** b4916's architecture table, and the check every loader makes with it before native code. */
class ArchitecturesTest {

    private static final String BUILD = "llama.cpp-b4916";

    @Test
    void b4916RunsTheCtransformersFamiliesButNotGptJOrNewerArchitectures() {
        ArchitectureTable t = NativeBindings.architectures(BUILD).orElseThrow();
        for (String arch : List.of("llama", "gpt2", "starcoder", "falcon", "mpt", "gptneox", "qwen2", "gemma3")) {
            assertEquals(Optional.empty(), t.problem(arch), arch);
        }
        assertEquals("architecture 'gptj' cannot run on llama.cpp-b4916: this build names GPT-J but has no "
                + "implementation of it (no GPT-J tensors or graph)", t.problem("gptj").orElseThrow());
        assertEquals("architecture 'qwen3' needs a newer llama.cpp build: llama.cpp-b4916 does not know it",
                t.problem("qwen3").orElseThrow());
        assertTrue(t.problem("replit").isPresent());
        assertEquals(Optional.empty(), NativeBindings.architectures("llama.cpp-b9999"));
    }

    @Test
    void v050RunsQwen3AndQwen3MoeAndTheB4916FamiliesButNotGptJ() {
        ArchitectureTable t = NativeBindings.architectures("llama.cpp-v0.5.0").orElseThrow();
        for (String arch : List.of("qwen3", "qwen3moe", "gemma3", "llama4", "gpt-oss", "llama", "gpt2", "starcoder",
                "falcon", "mpt", "gptneox")) {
            assertEquals(Optional.empty(), t.problem(arch), arch);
        }
        assertTrue(t.problem("gptj").orElseThrow().contains("no implementation"), t.problem("gptj").orElseThrow());
        assertTrue(t.problem("clip").orElseThrow().contains("vision projector"), t.problem("clip").orElseThrow());
        // Newer than every bound build: no fragment to point at.
        assertEquals(Optional.empty(), NativeBindings.runnableElsewhere("replit", BUILD, "linux-x86_64"));
    }

    @Test
    void theNewestAttachedBuildIsPreferredUnlessOneIsConfigured() {
        Set<String> both = Set.of("llama.cpp-b4916", "llama.cpp-v0.5.0");
        assertEquals(Optional.of("llama.cpp-v0.5.0"), NativeBindings.preferred(both, ""));
        assertEquals(Optional.of("llama.cpp-b4916"), NativeBindings.preferred(both, " llama.cpp-b4916 "));
        assertEquals(Optional.of("llama.cpp-v0.5.0"), NativeBindings.preferred(both, "llama.cpp-b9999"),
                "a build that is not attached falls back to the newest");
        assertEquals(Optional.of("llama.cpp-b4916"), NativeBindings.preferred(Set.of("llama.cpp-b4916"),
                "llama.cpp-v0.5.0"));
        assertEquals(Optional.empty(), NativeBindings.preferred(Set.of("llama.cpp-b9999"), ""));
    }

    @Test
    void aFileTheBuildCannotRunIsRefusedNamingFileArchitectureAndBuild(@TempDir Path dir) throws Exception {
        try (LlamaLibrary library = LlamaLibrary.load(NativeLibraries.llamaCpp(), BUILD)) {
            Path qwen3 = SharedModels.model("tiny-qwen3-gguf").resolve("tiny-qwen3-f32.gguf");
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> Architectures.require(GgufFile.read(
                    qwen3), qwen3, library.runtime()));
            assertEquals("tiny-qwen3-f32.gguf: architecture 'qwen3' needs a newer llama.cpp build: llama.cpp-b4916 "
                    + "does not know it: install the llama.cpp-v0.5.0 native fragment io.loadstone.llamacpp-v050-"
                    + Platform.current() + ", which runs it.", e.getMessage());
            assertTrue(e.fix().contains("newer Loadstone llama.cpp runtime"), e.fix());

            Path none = dir.resolve("none.gguf");
            new GgufWriter().putString("general.name", "x").write(none);
            ModelLoadException n = assertThrows(ModelLoadException.class, () -> Architectures.require(GgufFile.read(
                    none), none, library.runtime()));
            assertTrue(n.getMessage().contains("no general.architecture"), n.getMessage());

            Architectures.require(GgufFile.read(SharedModels.stories()), SharedModels.stories(), library.runtime());
        }
    }
}
