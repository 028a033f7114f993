package io.loadstone.itest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceReference;

import io.loadstone.tokenizer.HfTokenizer;
import io.loadstone.tokenizer.StreamDecoder;
import io.loadstone.tokenizer.TokenizerException;
import io.loadstone.tokenizer.TokenizerFactory;

/** The tokenizer bundle resolves with its platform fragment, registers TokenizerFactory and tokenizes. */
class TokenizerBundleTest {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final int[] ONCE = { 1, 403, 407, 261, 378 };

    private static Path stories() {
        String models = Framework.context().getProperty("loadstone.shared.models");
        Path dir = models == null ? null : Path.of(models, "stories260K-hf");
        assumeTrue(dir != null && Files.isDirectory(dir), "shared models absent: " + dir);
        return dir;
    }

    private static ServiceReference<TokenizerFactory> awaitFactory() throws InterruptedException {
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end) {
            ServiceReference<TokenizerFactory> ref = Framework.context().getServiceReference(TokenizerFactory.class);
            if (ref != null) {
                return ref;
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
        throw new AssertionError("No TokenizerFactory within " + WAIT + "\n" + Framework.diagnose());
    }

    private static Set<Path> privateCopies(Bundle host) throws Exception {
        try (Stream<Path> s = Files.list(host.getBundleContext().getDataFile("native").toPath())) {
            return s.collect(Collectors.toSet());
        }
    }

    private static void tokenizes(TokenizerFactory factory) throws TokenizerException {
        try (HfTokenizer t = factory.open(stories())) {
            assertArrayEquals(ONCE, t.encode("Once upon a time", true));
            assertEquals("Once upon a time", t.decode(ONCE, true));
            int[] ids = t.encode("a 日 b", false);
            StreamDecoder d = t.streamDecoder(false);
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                String piece = d.push(id);
                assertTrue(piece.indexOf('\uFFFD') < 0, "only complete characters are streamed");
                sb.append(piece);
            }
            assertEquals("a 日 b", sb.append(d.flush()).toString());
        }
    }

    @Test
    void resolvesWithItsFragmentAndTokenizes() throws Exception {
        ServiceReference<TokenizerFactory> ref = awaitFactory();
        Bundle host = ref.getBundle();
        assertEquals("io.loadstone.tokenizer", host.getSymbolicName());
        Bundle fragment = Framework.bundle(String.valueOf(ref.getProperty("loadstone.tokenizer.fragment")));
        assertNotNull(fragment, "the service names the fragment it loaded from");
        assertEquals(Bundle.RESOLVED, fragment.getState(), "the fragment is attached");
        assertEquals("djl-tokenizers-0.36.0", ref.getProperty(TokenizerFactory.BUILD));
        tokenizes(Framework.context().getService(ref));
        assertEquals(1, privateCopies(host).size(), "the library runs from one private copy in the data area");
    }
}
