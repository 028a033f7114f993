package io.loadstone.core.runtime;

import java.util.Map;
import java.util.function.BooleanSupplier;

import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.LogitsAccess;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.ModelLogits;

/**
 * One load's tokenizer and logits, handed to evaluators. Bound to that load: once it is
 * unloaded (user, eviction, loader gone) every call fails with a ModelLoadException, so a
 * long evaluation ends cleanly between windows; a call already inside the loader is ended
 * by the loader itself ("was unloaded"). Loader bugs (runtime exceptions) become
 * ModelLoadExceptions too, so an evaluation never takes a caller's thread down.
 */
final class SlotLogits implements ModelLogits {

    private final String model;
    private final String loaderId;
    private final Map<String, Object> options;
    private final int contextLength;
    private final LoadedModel loadedModel;
    private final LogitsAccess access;
    private final BooleanSupplier stillLoaded;
    private final Runnable touch;

    SlotLogits(String model, String loaderId, Map<String, Object> options, int contextLength,
            LoadedModel loadedModel, LogitsAccess access, BooleanSupplier stillLoaded, Runnable touch) {
        this.model = model;
        this.loaderId = loaderId;
        this.options = Map.copyOf(options);
        this.contextLength = contextLength;
        this.loadedModel = loadedModel;
        this.access = access;
        this.stillLoaded = stillLoaded;
        this.touch = touch;
    }

    @Override
    public String model() {
        return model;
    }

    @Override
    public String loaderId() {
        return loaderId;
    }

    @Override
    public Map<String, Object> options() {
        return options;
    }

    @Override
    public int contextLength() {
        return contextLength;
    }

    @Override
    public int vocabSize() {
        return access.vocabSize();
    }

    @Override
    public int[] tokenize(String text, boolean addSpecial) throws ModelLoadException {
        checkLoaded();
        try {
            return loadedModel.tokenize(text, addSpecial);
        } catch (RuntimeException | LinkageError e) {
            throw failure("Tokenizing", e);
        }
    }

    @Override
    public float[][] evaluate(int[] tokens, boolean allPositions) throws ModelLoadException {
        checkLoaded();
        touch.run();
        try {
            return access.evaluate(tokens, allPositions);
        } catch (ModelLoadException e) {
            if (!stillLoaded.getAsBoolean()) {
                throw unloaded(e);
            }
            throw e;
        } catch (RuntimeException | LinkageError e) {
            throw failure("Evaluating logits", e);
        } finally {
            touch.run();
        }
    }

    private void checkLoaded() throws ModelLoadException {
        if (!stillLoaded.getAsBoolean()) {
            throw unloaded(null);
        }
    }

    private ModelLoadException unloaded(Throwable cause) {
        return new ModelLoadException("The model '" + model + "' (" + loaderId + ") was unloaded.",
                "Load it again and retry.", cause);
    }

    private ModelLoadException failure(String what, Throwable e) {
        if (!stillLoaded.getAsBoolean()) {
            return unloaded(e);
        }
        return new ModelLoadException(what + " with '" + model + "' failed: " + e, "This is a bug in the "
                + loaderId + " loader; the model is still loaded.", e);
    }
}
