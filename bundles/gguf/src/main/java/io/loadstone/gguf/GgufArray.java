package io.loadstone.gguf;

import java.util.AbstractList;
import java.util.List;
import java.util.Objects;
import java.util.RandomAccess;

/**
 * An immutable GGUF metadata array: a {@code List<Object>} whose elements all have the
 * {@link #elementType()}, boxed as {@link GgufValueType} describes. Nested arrays are
 * {@code GgufArray}s themselves.
 *
 * <p>Elements are kept in a primitive array and boxed on access, because tokenizer arrays
 * (scores, token types) have hundreds of thousands of entries.
 */
public final class GgufArray extends AbstractList<Object> implements RandomAccess {

    private final GgufValueType elementType;
    // byte[] for UINT8/INT8, boolean[] for BOOL, short[] for UINT16/INT16, int[] for UINT32/INT32,
    // long[] for UINT64/INT64, float[], double[], String[], GgufArray[]
    private final Object elements;
    private final int size;

    GgufArray(GgufValueType elementType, Object elements, int size) {
        this.elementType = elementType;
        this.elements = elements;
        this.size = size;
    }

    /**
     * An array of {@code elementType} holding {@code values}, each converted to its canonical
     * class (see {@link GgufValueType}).
     *
     * @throws IllegalArgumentException if a value is null, of the wrong kind or out of range
     */
    public static GgufArray of(GgufValueType elementType, List<?> values) {
        Objects.requireNonNull(elementType, "elementType");
        int n = values.size();
        Object store = newStore(elementType, n);
        for (int i = 0; i < n; i++) {
            Object v;
            try {
                v = elementType.canonical(values.get(i));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("element " + i + ": " + e.getMessage(), e);
            }
            switch (elementType) {
                case UINT8 -> ((byte[]) store)[i] = (byte) (short) v;
                case INT8 -> ((byte[]) store)[i] = (Byte) v;
                case UINT16 -> ((short[]) store)[i] = (short) (int) v;
                case INT16 -> ((short[]) store)[i] = (Short) v;
                case UINT32 -> ((int[]) store)[i] = (int) (long) v;
                case INT32 -> ((int[]) store)[i] = (Integer) v;
                case FLOAT32 -> ((float[]) store)[i] = (Float) v;
                case BOOL -> ((boolean[]) store)[i] = (Boolean) v;
                case STRING -> ((String[]) store)[i] = (String) v;
                case ARRAY -> ((GgufArray[]) store)[i] = (GgufArray) v;
                case UINT64, INT64 -> ((long[]) store)[i] = (Long) v;
                case FLOAT64 -> ((double[]) store)[i] = (Double) v;
            }
        }
        return new GgufArray(elementType, store, n);
    }

    /** An array of strings. */
    public static GgufArray ofStrings(List<String> values) {
        return of(GgufValueType.STRING, values);
    }

    /** An array of INT32 values. */
    public static GgufArray ofInt32(int... values) {
        return new GgufArray(GgufValueType.INT32, values.clone(), values.length);
    }

    /** An array of FLOAT32 values. */
    public static GgufArray ofFloat32(float... values) {
        return new GgufArray(GgufValueType.FLOAT32, values.clone(), values.length);
    }

    static Object newStore(GgufValueType type, int n) {
        return switch (type) {
            case UINT8, INT8 -> new byte[n];
            case BOOL -> new boolean[n];
            case UINT16, INT16 -> new short[n];
            case UINT32, INT32 -> new int[n];
            case UINT64, INT64 -> new long[n];
            case FLOAT32 -> new float[n];
            case FLOAT64 -> new double[n];
            case STRING -> new String[n];
            case ARRAY -> new GgufArray[n];
        };
    }

    /** The type of every element. */
    public GgufValueType elementType() {
        return elementType;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public Object get(int index) {
        Objects.checkIndex(index, size);
        return switch (elementType) {
            case UINT8 -> (short) (((byte[]) elements)[index] & 0xFF);
            case INT8 -> ((byte[]) elements)[index];
            case UINT16 -> ((short[]) elements)[index] & 0xFFFF;
            case INT16 -> ((short[]) elements)[index];
            case UINT32 -> ((int[]) elements)[index] & 0xFFFF_FFFFL;
            case INT32 -> ((int[]) elements)[index];
            case FLOAT32 -> ((float[]) elements)[index];
            case BOOL -> ((boolean[]) elements)[index];
            case STRING -> ((String[]) elements)[index];
            case ARRAY -> ((GgufArray[]) elements)[index];
            case UINT64, INT64 -> ((long[]) elements)[index];
            case FLOAT64 -> ((double[]) elements)[index];
        };
    }

    /** Element {@code index} of an integer array, widened as in {@link #get}. */
    public long getLong(int index) {
        if (!elementType.isInteger()) {
            throw new IllegalStateException("not an integer array: " + elementType);
        }
        return ((Number) get(index)).longValue();
    }

    /** Element {@code index} of a numeric array; UINT64 values are converted as unsigned. */
    public double getDouble(int index) {
        Object v = get(index);
        if (!(v instanceof Number n)) {
            throw new IllegalStateException("not a numeric array: " + elementType);
        }
        if (elementType == GgufValueType.UINT64) {
            long raw = n.longValue();
            return raw >= 0 ? raw : (double) (raw >>> 1) * 2.0 + (raw & 1);
        }
        return n.doubleValue();
    }

    /** Element {@code index} of a string array. */
    public String getString(int index) {
        if (elementType != GgufValueType.STRING) {
            throw new IllegalStateException("not a string array: " + elementType);
        }
        return ((String[]) elements)[Objects.checkIndex(index, size)];
    }

    /** Arrays are equal when their element types and elements are. */
    @Override
    public boolean equals(Object o) {
        if (o instanceof GgufArray other && other.elementType != elementType) {
            return false;
        }
        return super.equals(o);
    }

    @Override
    public int hashCode() {
        return super.hashCode();
    }

    @Override
    public String toString() {
        if (size <= 8) {
            return elementType + super.toString();
        }
        return elementType + "[" + get(0) + ", " + get(1) + ", " + get(2) + ", ... (" + size + " elements)]";
    }
}
