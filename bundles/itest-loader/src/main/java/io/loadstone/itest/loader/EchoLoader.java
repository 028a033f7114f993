package io.loadstone.itest.loader;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.osgi.service.component.annotations.Component;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.Detection;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LoaderOptions;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelLoader;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.api.loader.OptionSpec;
import io.loadstone.api.loader.Sampling;

/**
 * A loader for "echo models": a folder with {@code echo-model.txt}. Generation replays
 * the file's words. It exists to exercise the plugin contract from outside: it is built
 * against the API bundle alone, like a third party's loader would be.
 */
@Component(property = ModelLoader.LOADER_ID + "=" + EchoLoader.ID)
public final class EchoLoader implements ModelLoader {

    static final String ID = "itest-echo";
    static final String FILE = "echo-model.txt";

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String description() {
        return "Test loader: replays echo-model.txt";
    }

    @Override
    public List<OptionSpec> options() {
        return List.of(OptionSpec.integer("delay_ms", 0, 0, 10_000, "Pause after each word (tests use it to "
                + "uninstall the loader mid-generation)."),
                OptionSpec.bool("fail", false, "Fail the load, as a broken model file would (tests use it to "
                        + "check that a failed load keeps the previous model)."),
                OptionSpec.integer("load_ms", 0, 0, 10_000, "Pause while loading, as a big model would (tests use "
                        + "it to make requests arrive during a load)."));
    }

    @Override
    public Capabilities capabilities() {
        return new Capabilities(Capabilities.LoraSupport.NONE, false, false, Set.of(Sampling.TEMPERATURE,
                Sampling.SEED, Sampling.DO_SAMPLE));
    }

    @Override
    public Detection detect(ModelSource source) {
        if (source.isDirectory() && Files.isRegularFile(source.path().resolve(FILE))) {
            return new Detection(Detection.PREFERRED, FILE + " present");
        }
        return Detection.no("no " + FILE);
    }

    @Override
    public LoadedModel load(ModelSource source, LoaderOptions options) throws ModelLoadException {
        Path file = source.path().resolve(FILE);
        if (options.bool("fail")) {
            throw new ModelLoadException("Cannot load " + file + ": failing on purpose (option fail).",
                    "Unset the fail option.");
        }
        try {
            Thread.sleep(options.integer("load_ms"));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ModelLoadException("Loading " + file + " was interrupted.", "Load it again.");
        }
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            return new EchoModel(text, options.integer("delay_ms"), Map.copyOf(options.asMap()));
        } catch (IOException e) {
            throw new ModelLoadException("Cannot read " + file + ": " + e.getMessage(), "Check the file.", e);
        }
    }
}
