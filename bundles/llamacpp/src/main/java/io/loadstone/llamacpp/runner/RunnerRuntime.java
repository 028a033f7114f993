package io.loadstone.llamacpp.runner;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

import io.loadstone.llamacpp.ContextParams;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.LlamaRuntime;
import io.loadstone.llamacpp.ModelParams;
import io.loadstone.llamacpp.NativeModel;

/**
 * A {@link LlamaRuntime} whose every model lives in its own runner process
 * ({@link RunnerMain}), so that native code that crashes, aborts or runs out of memory takes
 * down that model and nothing else, and unloading a model gives all its memory back (the
 * process ends). The server process never loads the native library.
 */
public final class RunnerRuntime implements LlamaRuntime, AutoCloseable {

    private final RunnerLaunch launch;
    private final RunnerProcess.Hello facts;
    private final long probeNanos;
    private final AtomicBoolean numa = new AtomicBoolean();
    private final Set<RemoteModel> models = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private RunnerRuntime(RunnerLaunch launch, RunnerProcess.Hello facts, long probeNanos) {
        this.launch = launch;
        this.facts = facts;
        this.probeNanos = probeNanos;
    }

    /**
     * Starts one runner to check that the library loads in it and to learn the runtime's facts
     * (build, GPU support, system info), then ends it.
     *
     * @throws LlamaException the runner cannot start or cannot load the library
     */
    public static RunnerRuntime start(RunnerLaunch launch) throws LlamaException {
        RunnerProcess probe = new RunnerProcess(launch, launch.library().getFileName().toString());
        try {
            return new RunnerRuntime(launch, probe.hello(), probe.startNanos());
        } finally {
            probe.kill();
        }
    }

    /** How long the probe runner took from start to a loaded library (the fixed cost of every model load). */
    public long startupNanos() {
        return probeNanos;
    }

    @Override
    public String buildName() {
        return facts.build();
    }

    @Override
    public boolean supportsGpuOffload() {
        return facts.gpu();
    }

    @Override
    public boolean supportsMmap() {
        return facts.mmap();
    }

    @Override
    public boolean supportsMlock() {
        return facts.mlock();
    }

    @Override
    public int maxDevices() {
        return facts.maxDevices();
    }

    @Override
    public String systemInfo() {
        return facts.systemInfo();
    }

    /** Remembered and applied in every runner started from now on (NUMA placement is per process). */
    @Override
    public boolean enableNuma() {
        return numa.compareAndSet(false, true);
    }

    @Override
    public NativeModel open(Path gguf, ModelParams model, ContextParams context) throws LlamaException {
        if (closed) {
            throw new LlamaException("The llama.cpp runtime is shutting down; " + gguf.getFileName() + " was not loaded.");
        }
        RunnerProcess p = new RunnerProcess(launch, String.valueOf(gguf.getFileName()));
        try {
            RemoteModel m = RemoteModel.open(p, gguf, model, context, numa.get(), models::remove);
            models.add(m);
            if (closed) {
                m.close();
                throw new LlamaException("The llama.cpp runtime shut down while " + gguf.getFileName() + " loaded.");
            }
            return m;
        } catch (LlamaException | RuntimeException e) {
            p.kill();
            throw e;
        }
    }

    /**
     * This runtime behind the {@link LlamaLibrary} handle that code written for the in-process
     * binding holds (tests, tools): {@code runtime()} is this, {@code close()} ends every runner.
     */
    public LlamaLibrary asLibrary() {
        return new LlamaLibrary() {
            @Override
            public LlamaRuntime runtime() {
                return RunnerRuntime.this;
            }

            @Override
            public Path path() {
                return launch.library();
            }

            @Override
            public void close() {
                RunnerRuntime.this.close();
            }
        };
    }

    /** The runner processes of the models open now (for tests and diagnostics). */
    public List<ProcessHandle> processes() {
        return models.stream().map(RemoteModel::process).toList();
    }

    /** Ends every runner: the models still open are closed. */
    @Override
    public void close() {
        closed = true;
        for (RemoteModel m : List.copyOf(models)) {
            m.close();
        }
    }
}
