package io.loadstone.tokenizer.provision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.apache.felix.framework.FrameworkFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.wiring.FrameworkWiring;

/**
 * The bundle in a real OSGi framework (embedded Felix + SCR): no service without the fragment,
 * the service after the fragment is attached, tokenization through it, and an update of the
 * bundle alone (the trap of Felix's per-revision native libraries) that keeps working. The
 * service is used reflectively: its classes come from the bundle's class loader, not the test's.
 */
class FrameworkTest {

    private static final String FACTORY = "io.loadstone.tokenizer.TokenizerFactory";
    private static final String TOKENIZER = "io.loadstone.tokenizer.HfTokenizer";

    @TempDir
    Path storage;

    private Framework framework;
    private BundleContext context;
    private Path bundles;
    private Path stories;

    @BeforeEach
    void start() throws Exception {
        String models = System.getProperty("loadstone.shared.models");
        stories = models == null ? null : Path.of(models, "stories260K-hf");
        assumeTrue(stories != null && Files.isDirectory(stories), "shared models absent; skipping");
        bundles = Path.of(System.getProperty("loadstone.tokenizer.test.bundles"));
        Map<String, String> config = new HashMap<>();
        config.put(Constants.FRAMEWORK_STORAGE, storage.resolve("felix").toString());
        config.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        framework = new FrameworkFactory().newFramework(config);
        framework.start();
        context = framework.getBundleContext();
        for (String jar : List.of("function.jar", "promise.jar", "service-component.jar", "gson.jar", "natives.jar",
                "scr.jar")) {
            Bundle b = context.installBundle(bundles.resolve(jar).toUri().toString());
            if (b.getHeaders().get(Constants.FRAGMENT_HOST) == null) {
                b.start();
            }
        }
    }

    @AfterEach
    void stop() throws Exception {
        if (framework != null) {
            framework.stop();
            framework.waitForStop(20_000);
        }
    }

    private Bundle installHost() throws Exception {
        // The bundle as bnd wrote it to target/classes (the jar is packaged after the tests).
        Bundle host = context.installBundle("reference:" + Path.of(System.getProperty("loadstone.tokenizer.classes"))
                .toUri());
        host.start();
        return host;
    }

    /**
     * The factory's reference, looked up without Felix's class-space check: the test's own class
     * path has another copy of the API classes (target/classes), which that check would reject.
     */
    private ServiceReference<?> factoryRef() throws InvalidSyntaxException {
        ServiceReference<?>[] refs = context.getAllServiceReferences(FACTORY, null);
        return refs == null ? null : refs[0];
    }

    private Object awaitFactory(Bundle host, long notBeforeId) throws Exception {
        for (int i = 0; i < 200; i++) {
            ServiceReference<?> ref = factoryRef();
            if (ref != null && ref.getBundle().equals(host)
                    && (Long) ref.getProperty(Constants.SERVICE_ID) > notBeforeId) {
                return context.getService(ref);
            }
            Thread.sleep(50);
        }
        return null;
    }

    private void refresh(Bundle... which) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(1);
        framework.adapt(FrameworkWiring.class).refreshBundles(which == null ? null : List.of(which), e -> {
            if (e.getType() == FrameworkEvent.PACKAGES_REFRESHED) {
                done.countDown();
            }
        });
        assertTrue(done.await(20, TimeUnit.SECONDS));
    }

    private int[] encodeThroughService(Bundle host, Object factory, String text) throws Exception {
        Class<?> factoryType = host.loadClass(FACTORY);
        Class<?> tokenizerType = host.loadClass(TOKENIZER);
        Object tokenizer = factoryType.getMethod("open", Path.class).invoke(factory, stories);
        try {
            Method encode = tokenizerType.getMethod("encode", String.class, boolean.class);
            int[] ids = (int[]) encode.invoke(tokenizer, text, true);
            String back = (String) tokenizerType.getMethod("decode", int[].class, boolean.class).invoke(tokenizer, ids,
                    true);
            assertEquals(text, back);
            return ids;
        } finally {
            tokenizerType.getMethod("close").invoke(tokenizer);
        }
    }

    private static Set<Path> nativeCopies(Bundle host) throws IOException {
        Path root = host.getBundleContext().getDataFile("native").toPath();
        try (Stream<Path> s = Files.list(root)) {
            return s.collect(Collectors.toSet());
        }
    }

    private static Set<String> tokenizerFilesIn(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return Set.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.contains("tokenizers")).collect(
                    Collectors.toSet());
        }
    }

    @Test
    void resolvesWithItsFragmentTokenizesAndSurvivesAnUpdateOfTheHostAlone() throws Exception {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        Path djlCache = Path.of(System.getProperty("user.home"), ".djl.ai");
        Set<String> tmpBefore = tokenizerFilesIn(tmp);
        boolean djlCacheBefore = Files.exists(djlCache);

        Bundle host = installHost();
        assertNull(awaitFactoryBriefly(host), "no service without a native fragment");

        Bundle fragment = context.installBundle(bundles.resolve("fragment.jar").toUri().toString());
        refresh(host);
        assertEquals(Bundle.RESOLVED, fragment.getState(), "the fragment for this platform attaches");
        Object factory = awaitFactory(host, -1);
        assertNotNull(factory, "service registered once the fragment is attached");
        ServiceReference<?> ref = factoryRef();
        assertEquals("djl-tokenizers-0.36.0", ref.getProperty("loadstone.tokenizer.build"));
        assertEquals(fragment.getSymbolicName(), ref.getProperty("loadstone.tokenizer.fragment"));
        assertArrayEquals(new int[] {1, 403, 407, 261, 378}, encodeThroughService(host, factory, "Once upon a time"));
        Set<Path> firstCopies = nativeCopies(host);
        assertEquals(1, firstCopies.size(), firstCopies::toString);
        long firstServiceId = (Long) ref.getProperty(Constants.SERVICE_ID);

        // Update only the host: a new class loader must get its own copy of the library.
        host.update();
        refresh(host);
        Object again = awaitFactory(host, firstServiceId);
        assertNotNull(again, "service back after updating the host alone");
        assertArrayEquals(new int[] {1, 403, 407, 261, 378}, encodeThroughService(host, again, "Once upon a time"));
        Set<Path> secondCopies = nativeCopies(host);
        assertEquals(1, secondCopies.size(), "the previous copy was deleted: " + secondCopies);
        assertNotEquals(firstCopies, secondCopies, "a fresh copy for the new class loader");

        assertEquals(tmpBefore, tokenizerFilesIn(tmp), "nothing extracted to the temp dir");
        assertEquals(djlCacheBefore, Files.exists(djlCache), "DJL's ~/.djl.ai cache not created");
    }

    private Object awaitFactoryBriefly(Bundle host) throws Exception {
        // The component activates synchronously on start; a short wait covers SCR's own thread.
        Thread.sleep(300);
        ServiceReference<?> ref = factoryRef();
        return ref == null ? null : context.getService(ref);
    }
}
