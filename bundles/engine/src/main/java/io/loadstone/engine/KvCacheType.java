package io.loadstone.engine;

/** Element type of the attention key/value cache. */
public enum KvCacheType {
    /** Exact; 4 bytes per value. */
    F32,
    /** Half the memory; keys and values are rounded to IEEE half precision when stored. */
    F16
}
