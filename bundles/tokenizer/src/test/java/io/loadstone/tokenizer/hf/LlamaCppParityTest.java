package io.loadstone.tokenizer.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

import io.loadstone.llamacpp.ContextParams;
import io.loadstone.llamacpp.LlamaLibrary;
import io.loadstone.llamacpp.ModelParams;
import io.loadstone.llamacpp.NativeModel;
import io.loadstone.tokenizer.HfTokenizer;

/**
 * A smaller run of the check in stories260K-hf/README.md: tokenizer.json through this bundle
 * against llama.cpp's own tokenizer on stories260K.gguf (an independent implementation reading
 * a different file), on seeded random strings built from the characters tokenizers get wrong.
 */
class LlamaCppParityTest {

    private static final String[] PIECES = {"a", "b", "e", "t", "h", "Lily", "the", "Once", " ", " ", "  ", "\n",
        "\n\n", "\r\n", "\t", ".", ",", "!", "?", "'", "\"", "0", "7", "42", "é", "ï", "ß", "Å", "日", "本", "語", "中",
        "文", "😀", "👩", "\u200d", "💻", "🏳️", "\u0000", "\u001b", "<s>", "</s>", "<unk>", "<", ">", "s", "▁", "ﬁ"};

    @Test
    void encodesRandomStringsExactlyAsLlamaCpp() throws Exception {
        String lib = System.getProperty("loadstone.llamacpp.library");
        assumeTrue(lib != null && Files.isRegularFile(Path.of(lib)), "llama.cpp library not unpacked: " + lib);
        Path gguf = NativeTokenizers.sharedFile("stories260K.gguf");

        List<String> texts = new ArrayList<>(List.of("", " ", "Once upon a time", " leading", "a <s> b</s> c",
                "日本語", "👩‍💻", "\n\n\t"));
        Random random = new Random(20261123L);
        while (texts.size() < 600) {
            StringBuilder sb = new StringBuilder();
            int n = random.nextInt(24);
            for (int i = 0; i < n; i++) {
                sb.append(PIECES[random.nextInt(PIECES.length)]);
            }
            texts.add(sb.toString());
        }

        int compared = 0;
        try (LlamaLibrary llama = LlamaLibrary.load(Path.of(lib), "llama.cpp-b4916");
                NativeModel model = llama.runtime().open(gguf, ModelParams.defaults(), ContextParams.defaults());
                HfTokenizer hf = NativeTokenizers.library().open(NativeTokenizers.model("stories260K-hf"))) {
            for (String text : texts) {
                for (boolean special : new boolean[] {false, true}) {
                    int[] expected = model.tokenize(text, special, true);
                    int[] actual = hf.encode(text, special);
                    assertEquals(Arrays.toString(expected), Arrays.toString(actual),
                            () -> "text " + text.codePoints().mapToObj(c -> String.format("U+%04X", c)).toList()
                                    + (special ? " with BOS" : ""));
                    compared++;
                }
            }
        }
        assertEquals(texts.size() * 2, compared);
    }
}
