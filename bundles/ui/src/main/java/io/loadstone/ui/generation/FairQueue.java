package io.loadstone.ui.generation;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One line per model: requests are served in arrival order, one at a time, and a request
 * whose client gave up leaves the line without ever running. A plain fair lock would not
 * do: a waiter that times out to check on its client would lose its place.
 */
public final class FairQueue {

    private final Map<String, Line> lines = new ConcurrentHashMap<>();

    /** Queues a request for {@code model}; close the ticket when done or abandoned. */
    public Ticket join(String model) {
        Line line = lines.computeIfAbsent(model, k -> new Line());
        Ticket t = new Ticket(line);
        synchronized (line) {
            if (line.active == null && line.waiting.isEmpty()) {
                line.active = t;
            } else {
                line.waiting.addLast(t);
            }
        }
        return t;
    }

    /** Per model: {running, waiting}, only for models with someone in line. */
    public Map<String, int[]> snapshot() {
        Map<String, int[]> out = new TreeMap<>();
        lines.forEach((model, line) -> {
            synchronized (line) {
                int running = line.active == null ? 0 : 1;
                if (running + line.waiting.size() > 0) {
                    out.put(model, new int[] {running, line.waiting.size()});
                }
            }
        });
        return out;
    }

    private static final class Line {
        private Ticket active;
        private final ArrayDeque<Ticket> waiting = new ArrayDeque<>();
    }

    /** A place in a model's line. */
    public static final class Ticket implements AutoCloseable {

        private final Line line;
        private boolean closed;

        private Ticket(Line line) {
            this.line = line;
        }

        /** True when it is this ticket's turn; false when the wait ran out first. */
        public boolean awaitTurn(long timeout, TimeUnit unit) throws InterruptedException {
            long end = System.nanoTime() + unit.toNanos(timeout);
            synchronized (line) {
                while (line.active != this) {
                    long left = end - System.nanoTime();
                    if (left <= 0 || closed) {
                        return false;
                    }
                    TimeUnit.NANOSECONDS.timedWait(line, left);
                }
                return true;
            }
        }

        /** Requests ahead of this one (the running one included); 0 when it runs. */
        public int ahead() {
            synchronized (line) {
                if (line.active == this) {
                    return 0;
                }
                int n = line.active == null ? 0 : 1;
                for (Ticket t : line.waiting) {
                    if (t == this) {
                        return n;
                    }
                    n++;
                }
                return n;
            }
        }

        /** Leaves the line, or ends this ticket's turn and hands it to the next. Idempotent. */
        @Override
        public void close() {
            synchronized (line) {
                if (closed) {
                    return;
                }
                closed = true;
                if (line.active == this) {
                    line.active = line.waiting.pollFirst();
                } else {
                    line.waiting.remove(this);
                }
                line.notifyAll();
            }
        }
    }
}
