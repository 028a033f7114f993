package io.loadstone.evaluation.perplexity;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

/**
 * logs/evaluation-loads.csv: which effective options (and context length) a load with given
 * settings produced. The evaluation log keys results by the load's <em>effective</em> options,
 * which loaders resolve at load time (threads 0 becomes the core count, the RoPE base is read
 * from the file, ...), so they are unknown before loading. Remembering what the same settings
 * gave last time lets the evaluator find a logged result for a model that is not loaded
 * without loading it. A miss (first time, settings changed, another machine) only means the
 * model is loaded and the log consulted again with the real options, as for a loaded model.
 */
final class LoadMemory {

    private static final Logger LOG = System.getLogger(LoadMemory.class.getName());
    static final List<String> HEADER = List.of("Model", "Loader", "Settings", "Options", "Context");

    /** What a load with some settings turned out to be. */
    record Load(String options, int contextLength) {
    }

    private final Path file;
    private final ReentrantLock lock = new ReentrantLock();

    LoadMemory(Path file) {
        this.file = file;
    }

    /** The latest remembered load of {@code model} with {@code loader} and these settings. */
    Optional<Load> find(String model, String loader, String settings) {
        lock.lock();
        try {
            if (!Files.isRegularFile(file)) {
                return Optional.empty();
            }
            Load found = null;
            for (List<String> row : Csv.parse(Files.readString(file, StandardCharsets.UTF_8))) {
                if (row.size() >= 5 && row.get(0).equals(model) && row.get(1).equals(loader)
                        && row.get(2).equals(settings)) {
                    try {
                        found = new Load(row.get(3), Integer.parseInt(row.get(4).trim()));
                    } catch (NumberFormatException e) {
                        // A hand-edited row: ignored, the model is then loaded instead.
                    }
                }
            }
            return Optional.ofNullable(found);
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "Cannot read " + file + ": " + e);
            return Optional.empty();
        } finally {
            lock.unlock();
        }
    }

    /** Remembers a load unless the same one is already the latest; a failure to write only costs a load later. */
    void remember(String model, String loader, String settings, Load load) {
        if (find(model, loader, settings).filter(load::equals).isPresent()) {
            return;
        }
        lock.lock();
        try {
            Files.createDirectories(file.getParent());
            boolean fresh = !Files.isRegularFile(file) || Files.size(file) == 0;
            String text = (fresh ? Csv.row(HEADER) : "") + Csv.row(List.of(model, loader, settings, load.options(),
                    Integer.toString(load.contextLength())));
            Files.writeString(file, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Cannot write " + file + ": " + e);
        } finally {
            lock.unlock();
        }
    }
}
