package io.loadstone.llamacpp.loading;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaRuntime;
import io.loadstone.llamacpp.NativeModel;

/** Opening a validated, planned GGUF file on the runtime, the same way for every loader. */
public final class NativeLoad {

    private NativeLoad() {
    }

    /**
     * Opens {@code file} as {@code plan} says. The file passed the validator and the architecture
     * check ({@link Architectures}), so what llama.cpp still refuses is most likely a quantisation
     * newer than the build.
     */
    public static NativeModel open(LlamaRuntime runtime, Path file, LlamaCppOptions.Plan plan)
            throws ModelLoadException {
        try {
            return runtime.open(file, plan.model(), plan.context());
        } catch (LlamaException e) {
            // The Java checks passed but llama.cpp refused the file's content: the file's problem (4xx).
            throw new ModelLoadException(ModelLoadException.Reason.INVALID_FILE, file.getFileName().toString(),
                    e.getMessage(), "If the file is fine, its architecture or quantisation may "
                    + "be newer than " + runtime.buildName() + "; try a newer Loadstone llama.cpp runtime.", e);
        }
    }

    /**
     * What llama.cpp itself warned about while loading (a failed mlock, tokenizer quirks), except
     * that n_ctx is below the trained context: that is the documented default cap.
     */
    public static List<String> warnings(NativeModel model) {
        List<String> out = new ArrayList<>();
        for (String w : model.loadWarnings()) {
            if (!w.contains("n_ctx_per_seq")) {
                out.add("llama.cpp: " + w);
            }
        }
        return out;
    }
}
