package io.loadstone.ui.download;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.ui.http.ApiException;

class HubDownloadDeskTest {

    /** The statuses the page and API clients rely on (bundles/ui/README.md lists them). */
    private static final Map<Reason, Integer> DOCUMENTED = Map.of(Reason.INVALID_INPUT, 400, Reason.UNSAFE_PATH, 400,
            Reason.UNAUTHORIZED, 401, Reason.NOT_FOUND, 404, Reason.CHOICE_NEEDED, 409, Reason.BUSY, 409,
            Reason.ALREADY_EXISTS, 409, Reason.RATE_LIMITED, 429, Reason.DISK_SPACE, 507);

    @Test
    void everyReasonMapsToAnErrorStatusWithTheDownloadersMessage() {
        for (Reason r : EnumSet.allOf(Reason.class)) {
            String msg = "repo user/model: " + r + " — what to do about it";
            ApiException e = HubDownloadDesk.toApi(new DownloadException(r, msg));
            assertEquals(msg, e.getMessage(), r.name());
            assertTrue(e.status() >= 400 && e.status() < 600, r + " -> " + e.status());
            assertTrue(e.code().startsWith("hub_"), r + " code " + e.code());
            if (DOCUMENTED.containsKey(r)) {
                assertEquals(DOCUMENTED.get(r), e.status(), r.name());
            }
        }
    }

    @Test
    void hubUnauthorizedIsNotTheServersOwnKeyPrompt() {
        ApiException e = HubDownloadDesk.toApi(new DownloadException(Reason.UNAUTHORIZED,
                "user/gated is gated or private: set HF_TOKEN"));
        assertEquals(401, e.status());
        // app.js opens its API-key prompt on 401 unless the code starts with "hub_".
        assertEquals("hub_unauthorized", e.code());
    }
}
