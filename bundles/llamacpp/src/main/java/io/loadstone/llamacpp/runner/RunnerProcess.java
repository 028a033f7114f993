package io.loadstone.llamacpp.runner;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Pattern;

import io.loadstone.llamacpp.ContextFullException;
import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.ModelClosedException;
import io.loadstone.llamacpp.runner.Wire.Op;

/**
 * The server's end of one runner process: starts it, sends requests one at a time and reads
 * the answers, drains its stderr into the log (keeping the tail), and turns the end of the
 * process into a {@link RunnerStoppedException} that quotes what the process said last.
 * Calls are serialised (synchronized); {@link #kill()} may come from any thread at any time.
 */
final class RunnerProcess {

    private static final System.Logger LOG = System.getLogger(RunnerProcess.class.getName());

    /** What a dying llama.cpp or JVM prints that says why; the first of these in the tail is the cause. */
    private static final Pattern CAUSE = Pattern.compile(
            "GGML_ASSERT|GGML_ABORT|terminate called|what\\(\\)|SIGSEGV|SIGBUS|SIGILL|SIGFPE|OutOfMemoryError"
                    + "|bad_alloc|[Ff]ailed to allocate|Cannot allocate|test hook");

    private static final int TAIL_LINES = 200;

    private static final Pattern SOURCE_PATH = Pattern.compile("^\\S*/([^/\\s]+:\\d+: )");

    /** What a request writes after its op and target. */
    interface Args {
        void write(DataOutputStream out) throws IOException;
    }

    /** What a response carries after an OK status. */
    interface Result<T> {
        T read(DataInputStream in) throws IOException;
    }

    /** The runtime facts every runner announces when it has loaded the library. */
    record Hello(String build, boolean gpu, boolean mmap, boolean mlock, int maxDevices, String systemInfo) {
    }

    private final String label;
    private final Process process;
    private final DataOutputStream out;
    private final DataInputStream in;
    /** The body of the request being written, framed with its length (see {@link RunnerMain}). */
    private final ByteArrayOutputStream request = new ByteArrayOutputStream();
    private final DataOutputStream requestData = new DataOutputStream(request);
    private final Deque<String> tail = new ArrayDeque<>();
    private final Thread stderrPump;
    private final SharedLogits logits;
    private final Hello hello;
    private final long startNanos;
    private volatile boolean killed;
    private RunnerStoppedException stopped;
    /** Completed when the process ends without {@link #kill()}: why, for whoever must unload the model. */
    private final CompletableFuture<RunnerStoppedException> died = new CompletableFuture<>();

    /**
     * Starts a runner and waits for it to load the library.
     *
     * @param label what the runner is for, in messages ("X.gguf")
     */
    RunnerProcess(RunnerLaunch launch, String label) throws LlamaException {
        this.label = label;
        long t0 = System.nanoTime();
        Path shm;
        try {
            Files.createDirectories(launch.workDir());
            shm = Files.createTempFile(launch.workDir(), "logits-", ".shm");
        } catch (IOException e) {
            throw new LlamaException("Cannot create the llama.cpp runner's files in " + launch.workDir() + ": " + e, e);
        }
        logits = new SharedLogits(shm, false);
        List<String> cmd = new ArrayList<>();
        cmd.add(launch.java().toString());
        cmd.addAll(launch.jvmOptions());
        cmd.add("-XX:ErrorFile=" + launch.workDir().resolve("runner-crash-%p.log"));
        cmd.add("-cp");
        cmd.add(launch.classpath().toString());
        cmd.add(RunnerMain.class.getName());
        cmd.add(launch.library().toString());
        cmd.add(launch.build());
        cmd.add(shm.toString());
        try {
            process = new ProcessBuilder(cmd).directory(launch.workDir().toFile()).start();
        } catch (IOException e) {
            deleteQuietly(shm);
            throw new LlamaException("Cannot start the llama.cpp runner for " + label + " (" + launch.java() + "): "
                    + e.getMessage(), e);
        }
        out = new DataOutputStream(new BufferedOutputStream(process.getOutputStream(), 1 << 16));
        in = new DataInputStream(new BufferedInputStream(process.getInputStream(), 1 << 16));
        stderrPump = Thread.ofPlatform().daemon().name("llama.cpp runner stderr " + process.pid() + " (" + label + ")")
                .start(this::pumpStderr);
        try {
            hello = readHello();
        } catch (LlamaException e) {
            kill();
            throw e;
        }
        startNanos = System.nanoTime() - t0;
        // Watch the process, not only the calls: a runner that dies between calls (OOM killer,
        // kill -9) must be noticed before the next request, or its model stays listed as loaded.
        process.onExit().thenRunAsync(this::exited, r -> Thread.ofPlatform().daemon()
                .name("llama.cpp runner exit " + process.pid() + " (" + label + ")").start(r));
    }

    private void exited() {
        if (!killed) {
            died.complete(stoppedBy(new IOException("the process ended")));
        }
    }

    /**
     * Calls {@code handler} with the user's message once the process has ended by itself (at once if it
     * already has); never after {@link #kill()}.
     */
    void onStopped(Consumer<String> handler) {
        died.thenAccept(e -> {
            if (!killed) {
                handler.accept(e.getMessage());
            }
        });
    }

    private Hello readHello() throws LlamaException {
        try {
            int magic = in.readInt();
            if (magic != Wire.HELLO) {
                throw new IOException("the runner wrote 0x" + Integer.toHexString(magic) + " instead of its greeting");
            }
            if (in.readUnsignedByte() != Wire.OK) {
                throw new LlamaException(Wire.readString(in));
            }
            return new Hello(Wire.readString(in), in.readBoolean(), in.readBoolean(), in.readBoolean(), in.readInt(),
                    Wire.readString(in));
        } catch (IOException e) {
            throw stoppedBy(e);
        }
    }

    Hello hello() {
        return hello;
    }

    /** How long the process took from start to a loaded library. */
    long startNanos() {
        return startNanos;
    }

    ProcessHandle handle() {
        return process.toHandle();
    }

    /**
     * One request and its answer.
     *
     * @throws ModelClosedException   after {@link #kill()} (the model was closed meanwhile)
     * @throws RunnerStoppedException the process ended (crash, abort, killed)
     */
    synchronized <T> T call(Op op, int target, Args args, Result<T> result) throws LlamaException {
        if (killed) {
            throw closed();
        }
        if (stopped != null) {
            throw stopped;
        }
        try {
            request.reset();
            if (args != null) {
                args.write(requestData);
            }
            out.writeByte(op.ordinal());
            out.writeInt(target);
            out.writeInt(request.size());
            request.writeTo(out);
            out.flush();
            int status = in.readUnsignedByte();
            switch (status) {
                case Wire.OK:
                    return result == null ? null : result.read(in);
                case Wire.CONTEXT_FULL:
                    throw new ContextFullException(Wire.readString(in));
                case Wire.CLOSED:
                    throw new ModelClosedException(Wire.readString(in));
                case Wire.FAILED:
                    throw new LlamaException(Wire.readString(in));
                default:
                    throw new IOException("the runner answered with status " + status);
            }
        } catch (IOException e) {
            if (killed) {
                throw closed();
            }
            stopped = stoppedBy(e);
            throw stopped;
        }
    }

    /** Logits the runner just wrote to the shared file; under {@link #call}'s turn via the callers' locking. */
    synchronized float[][] readLogits(int rows, int width, long size) throws LlamaException {
        try {
            return logits.read(rows, width, size);
        } catch (IOException | RuntimeException e) {
            throw new LlamaException("Cannot read the logits of " + label + " from " + logits.file() + ": " + e, e);
        }
    }

    private ModelClosedException closed() {
        return new ModelClosedException("The model " + label + " was closed.");
    }

    /**
     * Ends the process now (SIGKILL: nothing the native side does can delay an unload) and
     * waits until it is gone, so that no runner outlives its model.
     */
    void kill() {
        killed = true;
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                LOG.log(System.Logger.Level.WARNING, "The llama.cpp runner " + process.pid() + " for " + label
                        + " did not end within 10 s of SIGKILL.");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (this) {
            logits.close();
        }
        deleteQuietly(logits.file());
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** The process has ended (or its pipe broke): why, in the user's terms. */
    private RunnerStoppedException stoppedBy(IOException e) {
        Integer exit = null;
        try {
            if (process.waitFor(5, TimeUnit.SECONDS)) {
                exit = process.exitValue();
            }
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
        }
        if (exit == null) {
            // Alive but talking nonsense: it cannot be trusted with another request.
            process.destroyForcibly();
        }
        try {
            stderrPump.join(2000); // the last lines it printed before dying
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
        }
        String cause;
        synchronized (tail) {
            cause = cause(new ArrayList<>(tail));
        }
        StringBuilder m = new StringBuilder("The llama.cpp runner for ").append(label).append(" stopped");
        if (exit != null) {
            m.append(" (").append(describeExit(exit)).append(')');
        }
        m.append(": ").append(cause == null ? String.valueOf(e.getMessage()) : cause);
        m.append(exit != null && exit == 128 + 9
                ? " — it was killed (by hand, or by the system for lack of memory)."
                : " — the file is corrupt or not supported.");
        return new RunnerStoppedException(m.toString(), e);
    }

    static String describeExit(int exit) {
        if (exit > 128 && exit < 128 + 32) {
            int sig = exit - 128;
            String name = switch (sig) {
                case 4 -> "SIGILL";
                case 6 -> "SIGABRT";
                case 7 -> "SIGBUS";
                case 8 -> "SIGFPE";
                case 9 -> "SIGKILL";
                case 11 -> "SIGSEGV";
                default -> "signal " + sig;
            };
            return name + ", exit code " + exit;
        }
        return "exit code " + exit;
    }

    /** The first line of the tail that names a cause, else the last line native code printed, else the last log line. */
    static String cause(List<String> lines) {
        for (String l : lines) {
            if (CAUSE.matcher(l).find()) {
                return shorten(l);
            }
        }
        for (int i = lines.size() - 1; i >= 0; i--) {
            String l = lines.get(i);
            if (!l.isBlank() && l.charAt(0) != RunnerMain.LOG_MARK) {
                return shorten(l);
            }
        }
        return lines.isEmpty() ? null : shorten(lines.get(lines.size() - 1));
    }

    private static String shorten(String line) {
        String s = line.charAt(0) == RunnerMain.LOG_MARK
                ? line.substring(line.lastIndexOf(RunnerMain.LOG_SEP) + 1)
                : line;
        // "/build/dir/src/llama-vocab.cpp:1688: GGML_ASSERT(...)": the builder's folders say nothing to a user.
        s = SOURCE_PATH.matcher(s.strip()).replaceFirst("$1");
        return s.length() > 300 ? s.substring(0, 300) + "…" : s;
    }

    private void pumpStderr() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getErrorStream(),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                synchronized (tail) {
                    tail.addLast(line);
                    if (tail.size() > TAIL_LINES) {
                        tail.removeFirst();
                    }
                }
                relog(line);
            }
        } catch (IOException e) {
            // The process is gone; what it said is in the tail.
        }
    }

    /** A marked line goes to its own logger at its level; anything else is native output, worth a look. */
    private void relog(String line) {
        if (!line.isEmpty() && line.charAt(0) == RunnerMain.LOG_MARK) {
            String[] p = line.substring(1).split(String.valueOf(RunnerMain.LOG_SEP), 3);
            if (p.length == 3) {
                System.getLogger(p[1]).log(level(p[0]), p[2]);
                return;
            }
        }
        if (!line.isBlank()) {
            LOG.log(System.Logger.Level.INFO, "runner " + process.pid() + " (" + label + "): " + line);
        }
    }

    private static System.Logger.Level level(String julName) {
        return switch (julName) {
            case "SEVERE" -> System.Logger.Level.ERROR;
            case "WARNING" -> System.Logger.Level.WARNING;
            case "INFO" -> System.Logger.Level.INFO;
            case "FINER", "FINEST" -> System.Logger.Level.TRACE;
            default -> System.Logger.Level.DEBUG;
        };
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // A leftover file in the data area is harmless; the next start uses a new name.
        }
    }

    @Override
    public String toString() {
        return "llama.cpp runner " + process.pid() + " for " + label;
    }
}
