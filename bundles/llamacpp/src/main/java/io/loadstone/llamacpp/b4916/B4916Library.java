package io.loadstone.llamacpp.b4916;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import io.loadstone.llamacpp.ContextParams;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.LlamaRuntime;
import io.loadstone.llamacpp.ModelParams;
import io.loadstone.llamacpp.NativeModel;

/**
 * One dlopen'ed b4916 library. The shared {@link Arena} owns the library mapping and the
 * log upcall stub; {@link #close()} first closes every model (each waits for its native
 * call in progress), then points llama.cpp's logger back at NULL (so no native code can
 * call the stub any more) and only then closes the arena.
 */
// Native access is what this package is for; the JVM must run with --enable-native-access.
@SuppressWarnings("restricted")
final class B4916Library implements LlamaLibrary {

    static final String BUILD = Abi.Build.B4916.buildName;

    private final Path path;
    private final Arena arena;
    private final Abi abi;
    private final LogBridge log;
    private final Set<B4916Model> models = ConcurrentHashMap.newKeySet();
    /** Read: an operation that uses the library; write: closing it. */
    private final ReadWriteLock life = new ReentrantReadWriteLock();
    private volatile boolean closed;
    private boolean numa;
    private final LlamaRuntime runtime = new View();

    private B4916Library(Path path, Arena arena, Abi abi, LogBridge log) {
        this.path = path;
        this.arena = arena;
        this.abi = abi;
        this.log = log;
    }

    static B4916Library open(Path library, Abi.Build build) throws LlamaException {
        if (!Files.isRegularFile(library)) {
            throw new LlamaException("Native library " + library + " does not exist or is not a file.");
        }
        Arena arena = Arena.ofShared();
        try {
            SymbolLookup lookup;
            try {
                lookup = SymbolLookup.libraryLookup(library, arena);
            } catch (IllegalArgumentException e) {
                throw new LlamaException("Cannot open native library " + library + ": " + e.getMessage()
                        + ". It may be for another OS or CPU, or miss a system library it links against "
                        + "(libgomp, libstdc++).", e);
            }
            Abi abi = new Abi(lookup, library.toString(), build);
            LogBridge log = new LogBridge(System.getLogger("io.loadstone.llamacpp.native"));
            // Logging first, so that even backend initialisation never writes to stderr.
            abi.logSet(abi.logCallbackStub(log.handle(), arena), MemorySegment.NULL);
            abi.backendInit();
            // The CPU kernels of v0.5.0 are one library per CPU family beside this one; ggml scores
            // them against this CPU and keeps the best.
            Path dir = library.toAbsolutePath().getParent();
            try (Arena tmp = Arena.ofConfined()) {
                abi.loadBackends(tmp.allocateFrom(dir.toString()));
            }
            return new B4916Library(library, arena, abi, log);
        } catch (LlamaException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    // ---- LlamaLibrary ----

    /**
     * A view that offers only {@link LlamaRuntime}: service consumers get this and cannot
     * reach {@link #close()} by casting.
     */
    @Override
    public LlamaRuntime runtime() {
        return runtime;
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public void close() {
        life.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            for (B4916Model m : List.copyOf(models)) {
                m.close();
            }
            abi.logSet(MemorySegment.NULL, MemorySegment.NULL);
            arena.close();
        } finally {
            life.writeLock().unlock();
        }
    }

    // ---- the runtime, offered through View ----

    String buildName() {
        return abi.build().buildName;
    }

    boolean supportsGpuOffload() {
        return call(abi::supportsGpuOffload);
    }

    boolean supportsMmap() {
        return call(abi::supportsMmap);
    }

    boolean supportsMlock() {
        return call(abi::supportsMlock);
    }

    int maxDevices() {
        return (int) (long) call(abi::maxDevices);
    }

    String systemInfo() {
        return call(() -> abi.printSystemInfo().reinterpret(Integer.MAX_VALUE).getString(0).strip());
    }

    boolean enableNuma() {
        life.readLock().lock();
        try {
            ensureOpen();
            synchronized (this) {
                if (numa) {
                    return false;
                }
                abi.numaInit(Abi.NUMA_DISTRIBUTE);
                numa = true;
                return true;
            }
        } finally {
            life.readLock().unlock();
        }
    }

    NativeModel open(Path gguf, ModelParams model, ContextParams context) throws LlamaException {
        life.readLock().lock();
        try {
            ensureOpen();
            B4916Model m = B4916Model.open(this, gguf, model, context);
            models.add(m);
            return m;
        } finally {
            life.readLock().unlock();
        }
    }

    private final class View implements LlamaRuntime {

        @Override
        public String buildName() {
            return B4916Library.this.buildName();
        }

        @Override
        public boolean supportsGpuOffload() {
            return B4916Library.this.supportsGpuOffload();
        }

        @Override
        public boolean supportsMmap() {
            return B4916Library.this.supportsMmap();
        }

        @Override
        public boolean supportsMlock() {
            return B4916Library.this.supportsMlock();
        }

        @Override
        public int maxDevices() {
            return B4916Library.this.maxDevices();
        }

        @Override
        public String systemInfo() {
            return B4916Library.this.systemInfo();
        }

        @Override
        public boolean enableNuma() {
            return B4916Library.this.enableNuma();
        }

        @Override
        public NativeModel open(Path gguf, ModelParams model, ContextParams context) throws LlamaException {
            return B4916Library.this.open(gguf, model, context);
        }

        @Override
        public String toString() {
            return B4916Library.this.toString();
        }
    }

    // ---- for models ----

    Abi abi() {
        return abi;
    }

    LogBridge log() {
        return log;
    }

    void forget(B4916Model m) {
        models.remove(m);
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("The llama.cpp library " + path + " has been closed.");
        }
    }

    private <T> T call(java.util.function.Supplier<T> f) {
        life.readLock().lock();
        try {
            ensureOpen();
            return f.get();
        } finally {
            life.readLock().unlock();
        }
    }

    @Override
    public String toString() {
        return buildName() + " (" + path + ")";
    }
}
