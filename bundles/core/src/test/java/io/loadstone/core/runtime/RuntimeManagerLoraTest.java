package io.loadstone.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.Capabilities.LoraSupport;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.LoraAdapter;
import io.loadstone.api.loader.ModelInfo;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.api.loader.TokenSink;
import io.loadstone.api.runtime.ModelEvent;
import io.loadstone.core.shell.ShellCommands;

/**
 * The runtime's LoRA side with fake loaders of each support level (MULTI, SINGLE, NONE) and a
 * real loras folder on disk, activated the way Declarative Services does it.
 */
class RuntimeManagerLoraTest {

    @TempDir
    Path home;

    private RuntimeManager manager;
    private final List<ModelEvent> events = new CopyOnWriteArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        Files.createDirectories(home.resolve("models"));
        for (String m : List.of("multi.gguf", "single.gguf", "none.gguf")) {
            Files.write(home.resolve("models").resolve(m), new byte[] { 'G', 'G', 'U', 'F', 3, 0, 0, 0 });
        }
        Path loras = Files.createDirectories(home.resolve("adapters"));
        for (String a : List.of("r8", "qv", "broken", "old-np", "B.json")) {
            Files.createDirectories(loras.resolve(a));
            Files.writeString(loras.resolve(a).resolve("adapter_config.json"), "{\"r\": 8}");
        }
        Files.createDirectories(loras.resolve("no-config"));
        Files.writeString(loras.resolve("notes.txt"), "not an adapter");
        manager = new RuntimeManager();
        manager.activate(context(home), config(Map.of("loras_dir", "adapters", "max_loaded_models", 3)));
        manager.addListener(events::add);
        manager.addLoader(reference(1), new FakeLoader("multi", LoraSupport.MULTI));
        manager.addLoader(reference(2), new FakeLoader("single", LoraSupport.SINGLE));
        manager.addLoader(reference(3), new FakeLoader("none", LoraSupport.NONE));
    }

    @AfterEach
    void tearDown() {
        manager.deactivate();
    }

    @Test
    void listsAdapterFoldersSortedAndSkipsTheRestWithAReason() throws Exception {
        assertEquals(home.resolve("adapters").toRealPath(), manager.lorasDir().toRealPath());
        assertEquals(List.of("broken", "qv", "r8"), manager.loras());
        String shell = new ShellCommands(manager).loras();
        assertTrue(shell.contains("notes.txt: skipped, a file"), shell);
        assertTrue(shell.contains("no-config: skipped, no adapter_config.json"), shell);
        assertTrue(shell.contains("old-np: skipped, the name ends in -np"), shell);
    }

    @Test
    void multiAppliesSeveralInOrderAndAnEmptyListRemovesThem() throws Exception {
        manager.load("multi.gguf", "multi", Map.of());
        List<LoraAdapter> applied = manager.setLoras(null, List.of("r8", "qv"), List.of(1.0, 0.5));
        assertEquals(List.of("r8", "qv"), applied.stream().map(LoraAdapter::name).toList());
        assertEquals(0.5, applied.get(1).scale());
        assertEquals(manager.lorasDir().resolve("qv"), applied.get(1).folder());
        assertEquals(applied, manager.loras("multi.gguf"));
        assertEquals(applied, model("multi.gguf").applied);
        awaitLorasChanged(1);
        assertTrue(events.stream().anyMatch(e -> e.type() == ModelEvent.Type.LORAS_CHANGED
                && "multi.gguf".equals(e.model()) && e.message().contains("r8, qv (scale 0.5)")), events.toString());

        assertEquals(List.of(1.0), manager.setLoras("multi.gguf", List.of("r8"), null).stream()
                .map(LoraAdapter::scale).toList());
        assertEquals(List.of(), manager.setLoras("multi.gguf", List.of(), null));
        assertEquals(List.of(), manager.loras("multi.gguf"));
        assertEquals(List.of(), model("multi.gguf").applied);
    }

    @Test
    void unknownNamesAndMismatchedScalesAreRefusedNamingTheKnownOnes() throws Exception {
        manager.load("multi.gguf", "multi", Map.of());
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> manager.setLoras(null, List.of(
                "nope"), null));
        assertTrue(e.userMessage().contains("'nope'") && e.userMessage().contains("broken, qv, r8"), e
                .userMessage());
        assertThrows(ModelLoadException.class, () -> manager.setLoras(null, List.of("no-config"), null));
        e = assertThrows(ModelLoadException.class, () -> manager.setLoras(null, List.of("r8", "qv"), List.of(1.0)));
        assertTrue(e.userMessage().contains("2 LoRA name(s) but 1 scale(s)"), e.userMessage());
        assertThrows(ModelLoadException.class, () -> manager.setLoras(null, List.of("r8", "r8"), null));
        assertEquals(List.of(), model("multi.gguf").calls.isEmpty() ? List.of() : List.of("touched"));
    }

    @Test
    void noneRefusesNamingTheLoaderAndTheLoadersThatCan() throws Exception {
        manager.load("none.gguf", "none", Map.of());
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> manager.setLoras("none.gguf", List.of(
                "r8"), null));
        assertTrue(e.userMessage().contains("The none loader cannot apply LoRA"), e.userMessage());
        assertTrue(e.userMessage().contains("multi, single"), e.userMessage());
        assertEquals(List.of(), manager.setLoras("none.gguf", List.of(), null), "clearing is always allowed");
        assertTrue(new ShellCommands(manager).lora("-m", "none.gguf", "r8").startsWith("Failed: The none loader"));
    }

    @Test
    void singleTakesOneButNotTwo() throws Exception {
        manager.load("single.gguf", "single", Map.of());
        assertEquals(1, manager.setLoras(null, List.of("qv"), null).size());
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> manager.setLoras(null, List.of("r8",
                "qv"), null));
        assertTrue(e.userMessage().contains("one LoRA at a time, not 2"), e.userMessage());
        assertEquals(List.of("qv"), manager.loras(null).stream().map(LoraAdapter::name).toList());
    }

    @Test
    void aFailingApplyKeepsThePreviousSet() throws Exception {
        manager.load("multi.gguf", "multi", Map.of());
        manager.setLoras(null, List.of("r8"), null);
        awaitLorasChanged(1);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> manager.setLoras(null, List.of("r8",
                "broken"), null));
        assertTrue(e.userMessage().contains("broken"), e.userMessage());
        assertEquals(List.of("r8"), manager.loras(null).stream().map(LoraAdapter::name).toList());
        assertEquals(List.of("r8"), model("multi.gguf").applied.stream().map(LoraAdapter::name).toList());
        Thread.sleep(200); // events are delivered on another thread: give a wrong one time to arrive
        assertEquals(1, lorasChanged(), events.toString());
    }

    @Test
    void unloadReloadAndNoModelClearOrRefuse() throws Exception {
        assertThrows(ModelLoadException.class, () -> manager.setLoras(null, List.of("r8"), null));
        manager.load("multi.gguf", "multi", Map.of());
        manager.setLoras(null, List.of("r8"), null);
        manager.load("multi.gguf", "multi", Map.of());
        assertEquals(List.of(), manager.loras("multi.gguf"), "a reload starts without adapters");
        manager.setLoras(null, List.of("qv"), null);
        manager.unload("multi.gguf");
        assertEquals(List.of(), manager.loras("multi.gguf"));
        assertThrows(ModelLoadException.class, () -> manager.setLoras("multi.gguf", List.of("r8"), null));
    }

    @Test
    void shellAppliesWithScalesAndRemoves() throws Exception {
        manager.load("multi.gguf", "multi", Map.of());
        ShellCommands shell = new ShellCommands(manager);
        assertEquals("Applied: r8, qv=0.5\n", shell.lora("r8", "qv=0.5"));
        assertTrue(shell.loras().contains("Applied to multi.gguf (multi): r8, qv=0.5"), shell.loras());
        assertEquals("No LoRA applied now.\n", shell.lora("--none"));
        assertTrue(shell.lora().startsWith("Name at least one LoRA"));
    }

    private long lorasChanged() {
        return events.stream().filter(e -> e.type() == ModelEvent.Type.LORAS_CHANGED && e.model() != null).count();
    }

    private void awaitLorasChanged(int n) throws InterruptedException {
        for (int i = 0; i < 200 && lorasChanged() < n; i++) {
            Thread.sleep(10);
        }
        assertEquals(n, lorasChanged(), events.toString());
    }

    private FakeModel model(String name) {
        return FakeLoader.MODELS.stream().filter(m -> m.name.equals(name) && !m.closed).reduce((a, b) -> b)
                .orElseThrow();
    }

    // ---- fakes ---------------------------------------------------------------------------

    private static final class FakeLoader implements ModelLoader {
        static final List<FakeModel> MODELS = new CopyOnWriteArrayList<>();
        final String id;
        final LoraSupport lora;

        FakeLoader(String id, LoraSupport lora) {
            this.id = id;
            this.lora = lora;
        }

        @Override
        public String id() {
            return id;
        }

        @Override
        public List<OptionSpec> options() {
            return List.of();
        }

        @Override
        public Capabilities capabilities() {
            return new Capabilities(lora, false, false, java.util.Set.of());
        }

        @Override
        public Detection detect(ModelSource source) {
            return source.name().startsWith(id + ".") ? new Detection(Detection.PREFERRED, "its own")
                    : new Detection(Detection.COMPATIBLE, "any");
        }

        @Override
        public LoadedModel load(ModelSource source, LoaderOptions options) {
            FakeModel m = new FakeModel(source.name(), id, lora);
            MODELS.add(m);
            return m;
        }
    }

    private static final class FakeModel implements LoadedModel {
        final String name;
        final String loaderId;
        final LoraSupport lora;
        final List<List<LoraAdapter>> calls = new ArrayList<>();
        volatile List<LoraAdapter> applied = List.of();
        volatile boolean closed;

        FakeModel(String name, String loaderId, LoraSupport lora) {
            this.name = name;
            this.loaderId = loaderId;
            this.lora = lora;
        }

        @Override
        public ModelInfo info() {
            return new ModelInfo(loaderId, "fake", 0, 0, 0, "", List.of(), Map.of());
        }

        @Override
        public int[] tokenize(String text, boolean addSpecial) {
            return new int[0];
        }

        @Override
        public String detokenize(int[] tokens) {
            return "";
        }

        @Override
        public GenerationResult generate(GenerationRequest request, TokenSink sink) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void setLoras(List<LoraAdapter> adapters) throws ModelLoadException {
            calls.add(adapters);
            if (lora == LoraSupport.NONE) {
                LoadedModel.super.setLoras(adapters);
                return;
            }
            for (LoraAdapter a : adapters) {
                if (!Files.isRegularFile(a.folder().resolve("adapter_config.json"))) {
                    throw new ModelLoadException("no adapter at " + a.folder(), "");
                }
                if (a.name().equals("broken")) {
                    throw new ModelLoadException("The adapter " + a.folder() + " (broken) does not fit.", "");
                }
            }
            applied = List.copyOf(adapters);
        }

        @Override
        public List<LoraAdapter> loras() {
            return applied;
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    private static BundleContext context(Path home) {
        return (BundleContext) Proxy.newProxyInstance(RuntimeManagerLoraTest.class.getClassLoader(),
                new Class<?>[] { BundleContext.class }, (p, m, a) -> m.getName().equals("getProperty")
                        && RuntimeManager.HOME_PROPERTY.equals(a[0]) ? home.toString() : null);
    }

    /** The configuration DS would pass: the annotation's defaults, with some values replaced. */
    private static RuntimeConfig config(Map<String, Object> values) {
        return (RuntimeConfig) Proxy.newProxyInstance(RuntimeManagerLoraTest.class.getClassLoader(),
                new Class<?>[] { RuntimeConfig.class }, (p, m, a) -> switch (m.getName()) {
                    case "hashCode" -> 0;
                    case "equals" -> p == a[0];
                    case "toString" -> "config" + values;
                    default -> values.containsKey(m.getName()) ? values.get(m.getName()) : m.getDefaultValue();
                });
    }

    /** A service reference ordered by ranking, with no bundle, as the runtime needs it. */
    @SuppressWarnings("unchecked")
    private static ServiceReference<ModelLoader> reference(int ranking) {
        InvocationHandler h = new InvocationHandler() {
            @Override
            public Object invoke(Object p, java.lang.reflect.Method m, Object[] a) {
                return switch (m.getName()) {
                    case "hashCode" -> ranking;
                    case "equals" -> p == a[0];
                    case "toString" -> "ref" + ranking;
                    case "compareTo" -> Integer.compare(ranking, (Integer) ((ServiceReference<?>) a[0]).getProperty(
                            "service.ranking"));
                    case "getProperty" -> "service.ranking".equals(a[0]) ? ranking : null;
                    default -> null;
                };
            }
        };
        return (ServiceReference<ModelLoader>) Proxy.newProxyInstance(RuntimeManagerLoraTest.class.getClassLoader(),
                new Class<?>[] { ServiceReference.class }, h);
    }
}
