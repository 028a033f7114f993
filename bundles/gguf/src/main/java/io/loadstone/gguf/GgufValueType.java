package io.loadstone.gguf;

import java.util.Optional;

/**
 * The metadata value types of GGUF ({@code gguf_metadata_value_type}) and the Java class each
 * is read as.
 *
 * <p>Unsigned types are widened to the next larger signed Java type so that no value turns
 * negative: {@code UINT8} is read as {@link Short}, {@code UINT16} as {@link Integer} and
 * {@code UINT32} as {@link Long}. {@code UINT64} has no larger primitive; it is read as a
 * {@link Long} holding the same 64 bits, so values of 2<sup>63</sup> and more appear negative
 * (use {@link Long#toUnsignedString(long)}).
 */
public enum GgufValueType {
    /** Read as {@link Short}, 0..255. */
    UINT8(0, 1),
    /** Read as {@link Byte}. */
    INT8(1, 1),
    /** Read as {@link Integer}, 0..65535. */
    UINT16(2, 2),
    /** Read as {@link Short}. */
    INT16(3, 2),
    /** Read as {@link Long}, 0..4294967295. */
    UINT32(4, 4),
    /** Read as {@link Integer}. */
    INT32(5, 4),
    /** Read as {@link Float}. */
    FLOAT32(6, 4),
    /** Read as {@link Boolean}; stored as one byte that must be 0 or 1. */
    BOOL(7, 1),
    /** Read as {@link String}; stored as u64 length + UTF-8 bytes. */
    STRING(8, 8),
    /** Read as {@link GgufArray} (a {@code List<Object>}); stored as element type, u64 count, elements. */
    ARRAY(9, 12),
    /** Read as {@link Long} with the same 64 bits (see the class comment). */
    UINT64(10, 8),
    /** Read as {@link Long}. */
    INT64(11, 8),
    /** Read as {@link Double}. */
    FLOAT64(12, 8);

    private static final GgufValueType[] BY_ID = values();

    private final int id;
    private final int minBytes;

    GgufValueType(int id, int minBytes) {
        this.id = id;
        this.minBytes = minBytes;
    }

    /** The numeric id stored in the file. */
    public int id() {
        return id;
    }

    /** The type with this id, or empty if GGUF defines none. */
    public static Optional<GgufValueType> byId(int id) {
        // ids are 0..12 in declaration order
        return id >= 0 && id < BY_ID.length ? Optional.of(BY_ID[id]) : Optional.empty();
    }

    /** Whether values of this type are whole numbers. */
    public boolean isInteger() {
        return switch (this) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }

    /**
     * The fewest bytes one value can take in a file (an empty string is its 8-byte length,
     * an empty array its 4-byte type and 8-byte count). Used to refuse counts that the rest of
     * the file cannot possibly hold before anything is allocated.
     */
    int minBytes() {
        return minBytes;
    }

    /**
     * The canonical Java value for {@code value} as this type, checking its range, or an
     * {@link IllegalArgumentException} saying why it does not fit. Integers are accepted from
     * any integral {@link Number}; floats from any {@link Number}.
     */
    Object canonical(Object value) {
        if (value == null) {
            throw new IllegalArgumentException("null is not a GGUF " + this + " value");
        }
        switch (this) {
            case STRING -> {
                if (value instanceof String s) {
                    return s;
                }
            }
            case BOOL -> {
                if (value instanceof Boolean b) {
                    return b;
                }
            }
            case ARRAY -> {
                if (value instanceof GgufArray a) {
                    return a;
                }
            }
            case FLOAT32 -> {
                if (value instanceof Number n) {
                    return n.floatValue();
                }
            }
            case FLOAT64 -> {
                if (value instanceof Number n) {
                    return n.doubleValue();
                }
            }
            default -> {
                if (value instanceof Long || value instanceof Integer || value instanceof Short
                        || value instanceof Byte) {
                    long v = ((Number) value).longValue();
                    return switch (this) {
                        case UINT8 -> (short) inRange(v, 0, 0xFF);
                        case INT8 -> (byte) inRange(v, Byte.MIN_VALUE, Byte.MAX_VALUE);
                        case UINT16 -> (int) inRange(v, 0, 0xFFFF);
                        case INT16 -> (short) inRange(v, Short.MIN_VALUE, Short.MAX_VALUE);
                        case UINT32 -> inRange(v, 0, 0xFFFF_FFFFL);
                        case INT32 -> (int) inRange(v, Integer.MIN_VALUE, Integer.MAX_VALUE);
                        default -> v; // UINT64 (raw bits), INT64
                    };
                }
            }
        }
        throw new IllegalArgumentException(value.getClass().getSimpleName() + " " + value
                + " is not a GGUF " + this + " value");
    }

    private long inRange(long v, long min, long max) {
        if (v < min || v > max) {
            throw new IllegalArgumentException(v + " is out of range for GGUF " + this + " [" + min + ", " + max + "]");
        }
        return v;
    }
}
