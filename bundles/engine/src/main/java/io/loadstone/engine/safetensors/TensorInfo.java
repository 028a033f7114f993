package io.loadstone.engine.safetensors;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * One tensor of a checkpoint: its type, shape and bytes (a read-only slice of the mapped file,
 * little-endian, row-major).
 *
 * @param name  the tensor's key in the header
 * @param dtype element type
 * @param shape dimensions, outermost first (empty for a scalar)
 * @param file  the file it is stored in (for error messages)
 * @param data  exactly {@code elements() * dtype.size()} bytes
 */
public record TensorInfo(String name, DType dtype, long[] shape, Path file, MemorySegment data) {

    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    public long elements() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + shapeString() + " in " + file.getFileName();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && t.name.equals(name) && t.dtype == dtype && Arrays.equals(t.shape, shape)
                && t.file.equals(file) && t.data.address() == data.address() && t.data.byteSize() == data.byteSize();
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }
}
