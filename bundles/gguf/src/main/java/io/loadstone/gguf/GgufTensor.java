package io.loadstone.gguf;

import java.util.Arrays;
import java.util.Objects;

/**
 * One entry of a GGUF tensor table.
 *
 * @param name     the tensor name, e.g. {@code blk.0.attn_q.weight}
 * @param dims     the shape, fastest-varying dimension first ({@code dims[0]} is the row
 *                 length, as in ggml's {@code ne}); 1 to 4 entries, each at least 1
 * @param type     the element type
 * @param offset   where the data starts, relative to {@link GgufFile#dataOffset()}
 * @param byteSize how many bytes the data takes (without alignment padding)
 */
public record GgufTensor(String name, long[] dims, GgmlType type, long offset, long byteSize) {

    public GgufTensor {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        dims = dims.clone(); // a record must not share a mutable array with its caller
    }

    /** A copy of the shape (callers cannot change this tensor through it). */
    @Override
    public long[] dims() {
        return dims.clone();
    }

    /** Number of dimensions. */
    public int rank() {
        return dims.length;
    }

    /** Extent of dimension {@code i}, 0 being the fastest-varying one. */
    public long dim(int i) {
        return dims[i];
    }

    /** The number of elements (product of the dims). */
    public long elementCount() {
        long n = 1;
        for (long d : dims) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensor t && name.equals(t.name) && Arrays.equals(dims, t.dims)
                && type == t.type && offset == t.offset && byteSize == t.byteSize;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, Arrays.hashCode(dims), type, offset, byteSize);
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(dims) + " @" + offset + " (" + byteSize + " bytes)";
    }
}
