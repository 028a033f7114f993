package io.loadstone.llamacpp.b4916;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Receives llama.cpp/ggml log output (through an FFM upcall) and routes it to a
 * {@link System.Logger}: nothing reaches stdout or stderr. It also remembers the last
 * error and warning lines of the calling thread, so that a failed load can quote
 * llama.cpp's own reason in its exception.
 *
 * <p>An exception escaping an upcall would kill the JVM, so {@link #log} catches everything.
 */
// Native access is what this package is for; the JVM must run with --enable-native-access.
@SuppressWarnings("restricted")
final class LogBridge {

    // ggml_log_level values in b4916.
    private static final int LEVEL_DEBUG = 1;
    private static final int LEVEL_WARN = 3;
    private static final int LEVEL_ERROR = 4;
    private static final int LEVEL_CONT = 5;

    private static final int KEPT_PROBLEMS = 8;

    private final System.Logger logger;

    /** Per thread: the line being assembled (llama.cpp logs lines in pieces). */
    private final ThreadLocal<StringBuilder> pending = ThreadLocal.withInitial(StringBuilder::new);

    /** Per thread: level of the line being assembled. */
    private final ThreadLocal<int[]> pendingLevel = ThreadLocal.withInitial(() -> new int[] {0});

    /** Per thread: recent warning/error lines, read by {@link #takeProblems()}. */
    private final ThreadLocal<Deque<String>> problems = ThreadLocal.withInitial(ArrayDeque::new);

    LogBridge(System.Logger logger) {
        this.logger = logger;
    }

    /** A handle for {@code void log(int, MemorySegment, MemorySegment)} bound to this bridge. */
    MethodHandle handle() {
        try {
            return MethodHandles.lookup()
                    .findVirtual(LogBridge.class, "log",
                            MethodType.methodType(void.class, int.class, MemorySegment.class, MemorySegment.class))
                    .bindTo(this);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The upcall target. Runs on whichever thread llama.cpp logs from. */
    void log(int level, MemorySegment text, MemorySegment userData) {
        try {
            if (MemorySegment.NULL.equals(text)) {
                return;
            }
            String s = text.reinterpret(Integer.MAX_VALUE).getString(0);
            StringBuilder line = pending.get();
            int[] lineLevel = pendingLevel.get();
            if (level != LEVEL_CONT) {
                if (!line.isEmpty()) {
                    emit(lineLevel[0], line.toString());
                    line.setLength(0);
                }
                lineLevel[0] = level;
            }
            int from = 0;
            int nl;
            while ((nl = s.indexOf('\n', from)) >= 0) {
                line.append(s, from, nl);
                emit(lineLevel[0], line.toString());
                line.setLength(0);
                from = nl + 1;
            }
            line.append(s, from, s.length());
        } catch (Throwable t) {
            // Never let anything unwind into native code.
        }
    }

    private void emit(int level, String line) {
        if (line.isBlank()) {
            return;
        }
        if ((level == LEVEL_ERROR || level == LEVEL_WARN) && !informational(line)) {
            Deque<String> q = problems.get();
            if (q.size() == KEPT_PROBLEMS) {
                q.removeFirst();
            }
            q.addLast(line.strip());
        }
        // llama.cpp is chatty and its warnings and errors reach users through our exceptions,
        // so everything goes to debug (its own debug output to trace).
        logger.log(level == LEVEL_DEBUG ? System.Logger.Level.TRACE : System.Logger.Level.DEBUG, line);
    }

    /**
     * Warnings llama.cpp prints for healthy models (the starter model among them): a vocabulary
     * whose unused special ids are -1 ("bad special token: 'tokenizer.ggml.padding_token_id' =
     * 4294967295, using default id -1") and an EOS that is not in the end-of-generation list, which
     * llama.cpp fixes itself. They go to the log at debug level like everything else, but are not
     * a load's notes: users saw them as if something were wrong.
     */
    static boolean informational(String line) {
        return line.contains("bad special token") && line.contains("4294967295")
                || line.contains("special_eos_id is not in special_eog_ids");
    }

    /** Forgets this thread's recorded problems (call before a native operation). */
    void clearProblems() {
        problems.get().clear();
        pending.get().setLength(0);
    }

    /**
     * This thread's warning/error lines since {@link #clearProblems()}, joined with "; ",
     * or an empty string; clears them.
     */
    String takeProblems() {
        return String.join("; ", takeProblemList());
    }

    /** This thread's warning/error lines since {@link #clearProblems()}; clears them. */
    java.util.List<String> takeProblemList() {
        StringBuilder line = pending.get();
        if (!line.isEmpty()) {
            emit(pendingLevel.get()[0], line.toString());
            line.setLength(0);
        }
        Deque<String> q = problems.get();
        java.util.List<String> out = java.util.List.copyOf(q);
        q.clear();
        return out;
    }
}
