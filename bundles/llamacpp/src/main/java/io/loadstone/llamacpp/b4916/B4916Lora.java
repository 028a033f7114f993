package io.loadstone.llamacpp.b4916;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LoraAdapter;

/** A llama_adapter_lora. In b4916 the model does not own its adapters: we free them. */
final class B4916Lora implements LoraAdapter {

    private final B4916Model model;
    private final MemorySegment pointer;
    private final Path file;
    private volatile boolean freed;

    B4916Lora(B4916Model model, MemorySegment pointer, Path file) {
        this.model = model;
        this.pointer = pointer;
        this.file = file;
    }

    B4916Model model() {
        return model;
    }

    MemorySegment pointer() {
        return pointer;
    }

    boolean isFreed() {
        return freed;
    }

    void markFreed() {
        freed = true;
    }

    void requireOpen() throws LlamaException {
        if (freed) {
            throw new LlamaException("The LoRA adapter " + file + " has been closed.");
        }
    }

    @Override
    public Path file() {
        return file;
    }

    @Override
    public void close() {
        model.free(this);
    }

    @Override
    public String toString() {
        return "LoraAdapter[" + file + (freed ? ", closed]" : "]");
    }
}
