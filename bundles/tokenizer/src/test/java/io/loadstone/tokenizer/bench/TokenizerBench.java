package io.loadstone.tokenizer.bench;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import io.loadstone.tokenizer.HfTokenizer;
import io.loadstone.tokenizer.StreamDecoder;
import io.loadstone.tokenizer.hf.JniTokenizerLibrary;

/**
 * Throughput of encode, decode and streaming decode on stories260K's tokenizer; not a test.
 * Run after {@code mvn install} in this module:
 * <pre>
 * mvn -q -o dependency:build-classpath -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test
 * java --enable-native-access=ALL-UNNAMED -cp target/test-classes:target/classes:$(cat target/cp.txt) \
 *     io.loadstone.tokenizer.bench.TokenizerBench target/natives/native/linux-x86_64/libtokenizers.so \
 *     ../../../shared/models/stories260K-hf
 * </pre>
 * Prints rates and the streaming/full-decode ratio.
 */
public final class TokenizerBench {

    private TokenizerBench() {
    }

    public static void main(String[] args) throws Exception {
        JniTokenizerLibrary library = JniTokenizerLibrary.load(List.of(Path.of(args[0])), "djl-tokenizers-0.36.0");
        try (HfTokenizer t = library.open(Path.of(args[1]))) {
            String text = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                    .repeat(40);
            int[] ids = t.encode(text, true);
            for (int warm = 0; warm < 3; warm++) {
                run(t, text, ids, false);
            }
            run(t, text, ids, true);
        }
    }

    private static void run(HfTokenizer t, String text, int[] ids, boolean print) {
        int rounds = 200;
        long start = System.nanoTime();
        long n = 0;
        for (int i = 0; i < rounds; i++) {
            n += t.encode(text, true).length;
        }
        double encodeRate = n / ((System.nanoTime() - start) / 1e9);
        start = System.nanoTime();
        long chars = 0;
        for (int i = 0; i < rounds; i++) {
            chars += t.decode(ids, true).length();
        }
        double decodeRate = rounds * (double) ids.length / ((System.nanoTime() - start) / 1e9);
        start = System.nanoTime();
        int streamRounds = 20;
        for (int i = 0; i < streamRounds; i++) {
            StreamDecoder d = t.streamDecoder(true);
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                sb.append(d.push(id));
            }
            sb.append(d.flush());
            chars += sb.length();
        }
        double streamRate = streamRounds * (double) ids.length / ((System.nanoTime() - start) / 1e9);
        if (print) {
            System.out.printf("%d tokens per text (%d chars)%n", ids.length, text.length());
            System.out.printf("encode        %,12.0f tokens/s%n", encodeRate);
            System.out.printf("decode        %,12.0f tokens/s%n", decodeRate);
            System.out.printf("stream decode %,12.0f tokens/s (%.3f of full decode)%n", streamRate,
                    streamRate / decodeRate);
            System.out.println("(checksum " + chars + ", ids " + Arrays.hashCode(ids) + ")");
        }
    }
}
