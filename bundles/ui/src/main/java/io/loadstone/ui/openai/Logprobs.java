package io.loadstone.ui.openai;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.runtime.ModelLogits;
import io.loadstone.api.runtime.ModelManager;

/**
 * Log-probabilities of the tokens a completion generated, in OpenAI's two shapes. They are
 * the model's own distribution (log-softmax of the raw logits, before samplers), read back by
 * one evaluation of prompt + completion after generating, so they need a loader that exposes
 * logits and cost about one prompt's worth of extra compute.
 */
final class Logprobs {

    /** One generated token: its log-probability and the {@code top} most likely tokens at its place. */
    record Entry(String token, double logprob, List<Alternative> top) {
    }

    record Alternative(String token, double logprob) {
    }

    private Logprobs() {
    }

    /**
     * @param prompt    the prompt as generated from (after any chat template)
     * @param generated the generated token ids, in order
     * @param top       how many alternatives per place (0 for none)
     */
    static List<Entry> of(ModelManager manager, String model, String prompt, boolean addBos, int[] generated, int top)
            throws ModelLoadException {
        ModelLogits logits = manager.logits(model);
        int[] promptIds = logits.tokenize(prompt, addBos);
        int[] all = Arrays.copyOf(promptIds, promptIds.length + generated.length);
        System.arraycopy(generated, 0, all, promptIds.length, generated.length);
        // The runtime keeps the end of a prompt that overflows the context; so does this.
        int from = Math.max(0, all.length - logits.contextLength());
        int[] seq = Arrays.copyOfRange(all, from, all.length);
        float[][] rows = generated.length == 0 ? new float[0][] : logits.evaluate(seq, true);
        List<Entry> out = new ArrayList<>(generated.length);
        for (int i = 0; i < generated.length; i++) {
            // Row r holds the scores for the token after position r.
            int r = promptIds.length + i - 1 - from;
            int before = promptIds.length + i - 1 >= 0 ? all[promptIds.length + i - 1] : -1;
            if (r < 0) {
                out.add(new Entry(text(manager, model, before, generated[i]), Double.NaN, List.of()));
                continue;
            }
            float[] row = rows[r];
            double norm = logSumExp(row);
            List<Alternative> alts = new ArrayList<>(top);
            for (int id : topIds(row, top)) {
                alts.add(new Alternative(text(manager, model, before, id), row[id] - norm));
            }
            out.add(new Entry(text(manager, model, before, generated[i]), row[generated[i]] - norm, alts));
        }
        return out;
    }

    /**
     * A token's text where it stands: decoded after the token before it, minus that token's
     * text, because tokenizers drop a word's leading space when the token is decoded alone.
     */
    private static String text(ModelManager manager, String model, int before, int id) throws ModelLoadException {
        if (before >= 0) {
            String prefix = manager.detokenize(model, new int[] {before});
            String both = manager.detokenize(model, new int[] {before, id});
            if (both.startsWith(prefix)) {
                return both.substring(prefix.length());
            }
        }
        return manager.detokenize(model, new int[] {id});
    }

    static double logSumExp(float[] row) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : row) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : row) {
            sum += Math.exp(v - max);
        }
        return max + Math.log(sum);
    }

    /** The ids of the k largest scores, largest first (k is small: a selection, not a sort of the vocabulary). */
    static int[] topIds(float[] row, int k) {
        k = Math.max(0, Math.min(k, row.length));
        int[] ids = new int[k];
        int n = 0;
        for (int id = 0; id < row.length; id++) {
            if (n == k && (k == 0 || row[id] <= row[ids[k - 1]])) {
                continue;
            }
            int pos = Math.min(n, k - 1);
            while (pos > 0 && row[id] > row[ids[pos - 1]]) {
                pos--;
            }
            System.arraycopy(ids, pos, ids, pos + 1, Math.min(n, k - 1) - pos);
            ids[pos] = id;
            n = Math.min(n + 1, k);
        }
        return Arrays.copyOf(ids, n);
    }

    /** {@code /v1/completions}: {@code {tokens, token_logprobs, top_logprobs, text_offset}}. */
    static JsonObject completion(List<Entry> entries, int textOffset) {
        JsonArray tokens = new JsonArray();
        JsonArray lps = new JsonArray();
        JsonArray tops = new JsonArray();
        JsonArray offsets = new JsonArray();
        int offset = textOffset;
        for (Entry e : entries) {
            tokens.add(e.token());
            if (Double.isNaN(e.logprob())) {
                lps.add(JsonNull.INSTANCE);
            } else {
                lps.add(e.logprob());
            }
            JsonObject top = new JsonObject();
            for (Alternative a : e.top()) {
                if (!top.has(a.token())) {
                    top.addProperty(a.token(), a.logprob());
                }
            }
            tops.add(top);
            offsets.add(offset);
            offset += e.token().length();
        }
        JsonObject o = new JsonObject();
        o.add("tokens", tokens);
        o.add("token_logprobs", lps);
        o.add("top_logprobs", tops);
        o.add("text_offset", offsets);
        return o;
    }

    /** {@code /v1/chat/completions}: {@code {content: [{token, logprob, bytes, top_logprobs}]}}. */
    static JsonObject chat(List<Entry> entries) {
        JsonArray content = new JsonArray();
        for (Entry e : entries) {
            JsonObject t = token(e.token(), e.logprob());
            JsonArray top = new JsonArray();
            for (Alternative a : e.top()) {
                top.add(token(a.token(), a.logprob()));
            }
            t.add("top_logprobs", top);
            content.add(t);
        }
        JsonObject o = new JsonObject();
        o.add("content", content);
        o.add("refusal", JsonNull.INSTANCE);
        return o;
    }

    private static JsonObject token(String text, double logprob) {
        JsonObject t = new JsonObject();
        t.addProperty("token", text);
        // OpenAI sends -9999.0 where there is no value; NaN is not JSON.
        t.addProperty("logprob", Double.isNaN(logprob) ? -9999.0 : logprob);
        JsonArray bytes = new JsonArray();
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            bytes.add(b & 0xff);
        }
        t.add("bytes", bytes);
        return t;
    }
}
