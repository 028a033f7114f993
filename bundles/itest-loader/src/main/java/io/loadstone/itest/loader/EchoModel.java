package io.loadstone.itest.loader;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.loadstone.api.loader.GenerationRequest;
import io.loadstone.api.loader.GenerationResult;
import io.loadstone.api.loader.LoadedModel;
import io.loadstone.api.loader.ModelInfo;
import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.StopReason;
import io.loadstone.api.loader.TokenSink;

/** Tokens are the words of the file (with their leading space); id = index in the file. */
final class EchoModel implements LoadedModel {

    private final List<String> words = new ArrayList<>();
    private final long delayMs;
    private final ModelInfo info;
    private volatile boolean closed;

    EchoModel(String text, long delayMs, Map<String, Object> options) {
        for (String w : text.strip().split("\\s+")) {
            words.add(words.isEmpty() ? w : " " + w);
        }
        this.delayMs = delayMs;
        this.info = new ModelInfo(EchoLoader.ID, "echo model, " + words.size() + " words", 4096, 4096,
                words.size(), "", List.of(), options);
    }

    @Override
    public ModelInfo info() {
        return info;
    }

    @Override
    public int[] tokenize(String text, boolean addSpecial) {
        String[] parts = text.strip().split("\\s+");
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            ids[i] = Math.max(0, words.indexOf(i == 0 ? parts[i] : " " + parts[i]));
        }
        return ids;
    }

    @Override
    public String detokenize(int[] tokens) {
        StringBuilder sb = new StringBuilder();
        for (int t : tokens) {
            sb.append(words.get(t));
        }
        return sb.toString();
    }

    @Override
    public GenerationResult generate(GenerationRequest request, TokenSink sink) throws ModelLoadException {
        if (closed) {
            throw new ModelLoadException("The echo model is closed.", "Load it again.");
        }
        long start = System.nanoTime();
        StringBuilder out = new StringBuilder();
        int n = 0;
        StopReason reason = StopReason.LENGTH;
        for (int i = 0; n < request.maxNewTokens(); i = (i + 1) % words.size()) {
            if (closed) {
                reason = StopReason.CLOSED;
                break;
            }
            String w = words.get(i);
            out.append(w);
            n++;
            if (!sink.accept(i, w)) {
                reason = StopReason.CANCELLED;
                break;
            }
            if (delayMs > 0) {
                try {
                    Thread.sleep(delayMs);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    reason = StopReason.CANCELLED;
                    break;
                }
            }
        }
        return new GenerationResult(out.toString(), tokenize(request.prompt(), false).length, n, reason, 0,
                System.nanoTime() - start);
    }

    @Override
    public void close() {
        closed = true;
    }
}
