package io.loadstone.llamacpp.loading;

import java.nio.file.Path;
import java.util.Optional;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.gguf.GgufFile;
import io.loadstone.llamacpp.LlamaRuntime;
import io.loadstone.llamacpp.binding.NativeBindings;
import io.loadstone.natives.Platform;

/**
 * Whether the attached llama.cpp build can run a GGUF file's {@code general.architecture},
 * decided in Java from the table of that build's binding, so that a file it cannot run (GPT-J
 * in b4916, or an architecture newer than the build) is refused with the reason before any
 * native call. Every loader on this runtime asks here, in {@code detect} and in {@code load}.
 */
public final class Architectures {

    private Architectures() {
    }

    /** Why {@code runtime} cannot run {@code gguf}, or empty when it can (or when its build has no table). */
    public static Optional<String> problem(GgufFile gguf, LlamaRuntime runtime) {
        String arch = gguf.architecture();
        if (arch.isEmpty()) {
            return Optional.of("no general.architecture, so llama.cpp cannot tell which model this is");
        }
        String build = runtime.buildName();
        return NativeBindings.architectures(build).flatMap(t -> t.problem(arch)).map(why -> NativeBindings
                .runnableElsewhere(arch, build, Platform.current()).map(fix -> why + ": " + fix).orElse(why));
    }

    /** Refuses a file whose architecture {@code runtime} cannot run, naming the file, the architecture and the build. */
    public static void require(GgufFile gguf, Path file, LlamaRuntime runtime) throws ModelLoadException {
        Optional<String> problem = problem(gguf, runtime);
        if (problem.isPresent()) {
            String arch = gguf.architecture();
            throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED, file.getFileName().toString(),
                    file.getFileName() + ": " + problem.get() + ".", arch.isEmpty()
                    ? "Convert the model again with llama.cpp's convert_hf_to_gguf.py, which writes it."
                    : "Run it with a newer Loadstone llama.cpp runtime (io.loadstone.llamacpp and its native "
                            + "fragment) whose build runs '" + arch + "', or load the model's Hugging Face folder "
                            + "with another loader (e.g. Transformers).", null);
        }
    }
}
