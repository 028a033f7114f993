package io.loadstone.engine;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.osgi.annotation.versioning.ProviderType;

/**
 * One tensor of the opened checkpoint, as a {@link LinearFormat} sees it: already validated
 * (its bytes lie inside the file and match dtype × shape), little-endian, row-major, read-only.
 * The segment stays valid until the model is closed.
 */
@ProviderType
public interface CheckpointTensor {

    String name();

    /** safetensors dtype name: F32, F16, BF16, I32, I8, U8, … */
    String dtype();

    /** Dimensions, outermost first. */
    long[] shape();

    /** The tensor's bytes in the mapped file. */
    MemorySegment data();

    /** The file it is stored in, for error messages. */
    Path file();
}
