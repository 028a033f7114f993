package io.loadstone.natives;

/** How {@link NativeFragments#privateCopy} treats copies from earlier activations. */
public enum CopyPolicy {
    /**
     * One copy per content hash, reused across activations. For libraries opened with
     * {@code dlopen} (FFM {@code SymbolLookup.libraryLookup}), where the OS shares one mapping
     * per file and no class loader bookkeeping applies.
     */
    REUSE_IDENTICAL,
    /**
     * A new directory every time. For JNI ({@code System.load}): the JVM refuses to load one
     * file into two class loaders, and after an update the old revision's class loader may
     * still hold the previous copy.
     */
    FRESH
}
