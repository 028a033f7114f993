package io.loadstone.ui.openai;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;

import com.google.gson.JsonObject;

class LogprobsTest {

    @Test
    void topIdsAreTheLargestScoresInOrder() {
        Random r = new Random(7);
        for (int round = 0; round < 50; round++) {
            float[] row = new float[1 + r.nextInt(300)];
            for (int i = 0; i < row.length; i++) {
                row[i] = (float) r.nextGaussian();
            }
            int k = r.nextInt(25);
            int[] want = IntStream.range(0, row.length).boxed().sorted(Comparator.comparingDouble((Integer i) -> row[i])
                    .reversed()).limit(k).mapToInt(Integer::intValue).toArray();
            assertArrayEquals(want, Logprobs.topIds(row, k), "k=" + k + " of " + row.length);
        }
        assertArrayEquals(new int[0], Logprobs.topIds(new float[] {1, 2}, 0));
    }

    @Test
    void logSumExpIsStableForLargeScores() {
        float[] row = {1000f, 1000f, 999f};
        double direct = 1000 + Math.log(1 + 1 + Math.exp(-1));
        assertEquals(direct, Logprobs.logSumExp(row), 1e-9);
        float[] small = {0.5f, -1.25f, 2f};
        assertEquals(Math.log(Math.exp(0.5) + Math.exp(-1.25) + Math.exp(2)), Logprobs.logSumExp(small), 1e-6);
    }

    @Test
    void openAiShapes() {
        List<Logprobs.Entry> entries = List.of(new Logprobs.Entry(" the", -0.5, List.of(new Logprobs.Alternative(
                " the", -0.5), new Logprobs.Alternative(" a", -1.5))), new Logprobs.Entry(" fox", -2, List.of()));
        JsonObject c = Logprobs.completion(entries, 3);
        assertEquals("[\" the\",\" fox\"]", c.getAsJsonArray("tokens").toString());
        assertEquals("[-0.5,-2.0]", c.getAsJsonArray("token_logprobs").toString());
        assertEquals("{\" the\":-0.5,\" a\":-1.5}", c.getAsJsonArray("top_logprobs").get(0).toString());
        assertEquals("[3,7]", c.getAsJsonArray("text_offset").toString(), "offsets count from after the echo");
        JsonObject chat = Logprobs.chat(entries);
        JsonObject first = chat.getAsJsonArray("content").get(0).getAsJsonObject();
        assertEquals(" the", first.get("token").getAsString());
        assertEquals("[32,116,104,101]", first.getAsJsonArray("bytes").toString());
        assertEquals(2, first.getAsJsonArray("top_logprobs").size());
    }
}
