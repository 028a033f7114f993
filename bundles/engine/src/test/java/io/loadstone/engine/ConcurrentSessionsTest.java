package io.loadstone.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Sessions of one model on several threads at once share the weights and the pool correctly. */
class ConcurrentSessionsTest {

    @Test
    void parallelSessionsGiveTheSameResultsAsOneAfterAnother() throws Exception {
        Path folder = TestModels.model("stories260K-hf");
        int[][] prompts = {
            {1, 403, 407, 261, 378},
            {1, 432, 383, 286, 261, 376, 298},
            {1, 315, 421, 395},
            {1, 426, 338, 401, 396, 267, 337, 410},
        };
        try (EngineModel m = EngineModel.open(folder, EngineOptions.builder().threads(2).build())) {
            List<int[]> sequential = new ArrayList<>();
            for (int[] p : prompts) {
                try (EngineSession s = m.newSession()) {
                    sequential.add(TestModels.greedy(s, p, 40));
                }
            }
            ExecutorService exec = Executors.newFixedThreadPool(prompts.length);
            try {
                for (int round = 0; round < 3; round++) {
                    List<Future<int[]>> futures = new ArrayList<>();
                    for (int[] p : prompts) {
                        futures.add(exec.submit(() -> {
                            try (EngineSession s = m.newSession()) {
                                return TestModels.greedy(s, p, 40);
                            }
                        }));
                    }
                    for (int i = 0; i < prompts.length; i++) {
                        assertArrayEquals(sequential.get(i), futures.get(i).get(), "prompt " + i + ", round " + round);
                    }
                }
            } finally {
                exec.shutdownNow();
            }
            assertEquals(4, sequential.size());
        }
    }
}
