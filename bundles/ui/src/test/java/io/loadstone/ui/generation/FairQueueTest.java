package io.loadstone.ui.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

class FairQueueTest {

    @Test
    void turnsGoInArrivalOrderAndAbandonedTicketsAreSkipped() throws Exception {
        FairQueue q = new FairQueue();
        FairQueue.Ticket a = q.join("m");
        FairQueue.Ticket b = q.join("m");
        FairQueue.Ticket c = q.join("m");
        FairQueue.Ticket d = q.join("m");
        assertTrue(a.awaitTurn(0, TimeUnit.SECONDS));
        assertEquals(List.of(0, 1, 2, 3), List.of(a.ahead(), b.ahead(), c.ahead(), d.ahead()));
        assertArrayEquals(new int[] {1, 3}, q.snapshot().get("m"));
        assertFalse(b.awaitTurn(10, TimeUnit.MILLISECONDS), "b waits while a runs");

        List<String> order = new CopyOnWriteArrayList<>();
        Thread td = Thread.ofPlatform().start(() -> run(d, "d", order));
        Thread tb = Thread.ofPlatform().start(() -> run(b, "b", order));
        c.close(); // c's client left while waiting
        assertEquals(2, d.ahead());
        a.close();
        tb.join(10_000);
        td.join(10_000);
        assertEquals(List.of("b", "d"), order);
        assertTrue(q.snapshot().isEmpty());
        assertTrue(q.join("other").awaitTurn(0, TimeUnit.SECONDS), "other models have their own line");
    }

    private static void run(FairQueue.Ticket t, String name, List<String> order) {
        try (t) {
            while (!t.awaitTurn(1, TimeUnit.SECONDS)) {
                // keep waiting, as the servlets do between heartbeats
            }
            order.add(name);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
