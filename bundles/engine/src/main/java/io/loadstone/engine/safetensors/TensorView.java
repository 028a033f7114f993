package io.loadstone.engine.safetensors;

import io.loadstone.engine.CheckpointTensor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/** The exported view of a {@link TensorInfo}. */
public record TensorView(TensorInfo info) implements CheckpointTensor {

    @Override
    public String name() {
        return info.name();
    }

    @Override
    public String dtype() {
        return info.dtype().name();
    }

    @Override
    public long[] shape() {
        return info.shape();
    }

    @Override
    public MemorySegment data() {
        return info.data();
    }

    @Override
    public Path file() {
        return info.file();
    }
}
